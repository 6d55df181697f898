package config

// Variable is one environment variable subaccountd reads: its name, its default as a
// person would write it, and what it means. Variables is the one list of them: the
// usage text (subaccountd --help) is printed from it, and tests check that Load reads
// nothing it lacks and that the README's configuration table names each of them.
type Variable struct {
	Name    string
	Default string
	Meaning string
}

// Variables lists every environment variable of subaccountd, in the order the usage
// text and the README show them. A variable Load reads must have its row here.
var Variables = []Variable{
	{"LISTEN_ADDR", "127.0.0.1:8080", "where to listen (host:port)"},
	{"METRICS_ADDR", "127.0.0.1:9090", "the private listener of GET /metrics (Prometheus) and /debug/pprof/ (host:port, never LISTEN_ADDR), or off"},
	{"PUBLIC_URL", "http:// + LISTEN_ADDR", "the built-in issuer's issuer URL (iss), and where clients reach it"},
	{"DATABASE_URL", "unset", "a postgres:// URL; unset = the embedded SQLite file in DATA_DIR"},
	{"DATA_DIR", "./data", "where the embedded database lives"},
	{"OIDC_ISSUER_URL", "unset", "an external issuer (discovery + JWKS); unset = the built-in issuer"},
	{"OIDC_AUDIENCE", "subaccounts-api", "the required aud"},
	{"AUTH_ACCOUNT_CLAIM", "account_id", "the claim that names the account"},
	{"ADMIN_CLIENT_ID", "generated on first start", "the built-in issuer's operator client; every other operator client is revoked"},
	{"ADMIN_CLIENT_SECRET", "generated on first start", "the operator client's secret (16-72 bytes); set with ADMIN_CLIENT_ID"},
	{"TOKEN_MAX_LIFETIME", "24h", "tokens whose exp - iat is longer are refused (at least 1m)"},
	{"LOG_LEVEL", "INFO", "DEBUG, INFO, WARN or ERROR"},
	{"MASTER_KEY", "embedded: generated into DATA_DIR/keys/master.key; PostgreSQL: required", "the master secret every key is derived from: hex or base64, at least 32 bytes, or VERSION:KEY entries separated by commas (highest version current)"},
	{"MASTER_KEY_FILE", "unset", "a file holding the same as MASTER_KEY (Docker/Kubernetes secrets); not together with MASTER_KEY"},
	{"MASTER_KEY_VERSION", "1", "the version of a single key in MASTER_KEY/MASTER_KEY_FILE"},
	{"CARD_FINGERPRINT_KEY", "unset", "deprecated: the same as MASTER_KEY (read for this release, with a warning)"},
	{"CARD_FINGERPRINT_KEY_VERSION", "unset", "deprecated: the same as MASTER_KEY_VERSION"},
	{"DATABASE_MAX_CONNS", "32", "PostgreSQL connections this replica's pool opens at most (2-1000); keep replicas × this below max_connections"},
	{"GROUP_COMMIT_MAX_BATCH", "256", "most messages in one group commit (1-1000)"},
	{"GROUP_COMMIT_MAX_WAIT", "2ms", "how long a group keeps gathering queued messages (0-1s)"},
	{"WEBHOOK_ALLOW_PRIVATE_NETWORKS", "false", "let webhook endpoints use http and private, loopback or link-local addresses (local development and tests only)"},
	{"WEBHOOK_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,10h", "the wait before each retry of a failed delivery (±10% jitter); a delivery is failed after the last"},
	{"WEBHOOK_RETENTION", "720h", "how long deliveries, their attempts and events are kept (at least 1h)"},
	{"EVENTS_NATS_URL", "unset", "a nats:// URL: every event is also published to the JetStream stream SUBACCOUNT_EVENTS"},
	{"REQUEST_TIMEOUT", "10s", "every request's deadline (100ms-10m): what it waits on gives up then, answered 503"},
	{"SHUTDOWN_TIMEOUT", "15s", "the whole shutdown's bound on SIGTERM (1s-10m); keep it above REQUEST_TIMEOUT"},
	{"CLIENT_RATE_LIMIT", "500", "each client's default limit on /v1, requests per second (burst the same); 0 = no default limit"},
	{"TOKEN_FAILURE_LIMIT", "10", "failed client authentications a minute at the token endpoint, per client id and per source address; 0 = off"},
	{"REDIS_URL", "unset", "a redis:// or rediss:// URL: rate limits shared by every replica; unset = per replica"},
	{"TRUST_FORWARDED_FOR", "false", "take the token endpoint's source address from the last X-Forwarded-For entry (only behind a proxy that sets it)"},
	// OpenTelemetry's own variables, read by internal/tracing as the specification
	// defines them; traces are off unless an OTLP endpoint is set.
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "unset", "an OTLP/HTTP collector's base URL (spans go to its /v1/traces): traces on; unset = traces off"},
	{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "unset", "the full URL spans are posted to (instead of OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces)"},
	{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "only http/protobuf is supported (also OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)"},
	{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf", "only http/protobuf is supported"},
	{"OTEL_SDK_DISABLED", "false", "true turns traces off whatever else is set"},
	{"OTEL_TRACES_EXPORTER", "otlp", "otlp, or none to turn traces off"},
	{"OTEL_SERVICE_NAME", "subaccountd", "the service.name of every span"},
	{"OTEL_RESOURCE_ATTRIBUTES", "unset", "more resource attributes, key=value pairs separated by commas"},
	{"OTEL_TRACES_SAMPLER", "parentbased_always_on", "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"},
	{"OTEL_TRACES_SAMPLER_ARG", "1", "the ratio of the traceidratio samplers (0-1)"},
	{"OTEL_BSP_SCHEDULE_DELAY", "5000", "milliseconds between two exports of queued spans"},
	{"OTEL_BSP_EXPORT_TIMEOUT", "30000", "milliseconds one export may take"},
	{"OTEL_BSP_MAX_QUEUE_SIZE", "2048", "spans queued for export at most; more are dropped"},
	{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512", "spans per export at most"},
}
