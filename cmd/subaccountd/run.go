package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/app"
	"github.com/cardseg/subaccounts/internal/auth"
	"github.com/cardseg/subaccounts/internal/config"
	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/httpapi"
	"github.com/cardseg/subaccounts/internal/idempotency"
	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/metrics"
	"github.com/cardseg/subaccounts/internal/ratelimit"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/tracing"
	"github.com/cardseg/subaccounts/internal/webhooks"
)

// run starts the server and blocks until ctx is cancelled, then shuts down gracefully.
// Logs go to stderr as JSON; stdout carries only what a person must see once (the
// generated operator credentials) and the "listening" line.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// The key subcommands run and exit; --help and --version answer before anything
	// reads the configuration or the disk.
	if len(args) > 1 && keyCommands[args[1]] != nil {
		return keyCommands[args[1]](ctx, args[1:], getenv, stdout, stderr)
	}
	if done, err := parseArgs(args, stdout, stderr); done || err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := slog.New(httpapi.LogHandler(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))
	log.Info("starting", slog.Any("config", cfg))
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	traces, err := tracing.Setup(ctx, getenv)
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: the spans of the shutdown itself are flushed too.
	defer flushTraces(traces, cfg.ShutdownTimeout, log)

	var db *store.DB
	dbOpts := store.Options{Logger: log, QueryTracer: traces.QueryTracer(), SQLitePlugin: traces.GormPlugin()}
	if cfg.DatabaseURL != "" {
		dbOpts.MaxConns = cfg.DatabaseMaxConns
		db, err = store.OpenPostgres(ctx, cfg.DatabaseURL, dbOpts)
	} else {
		db, err = store.OpenSQLite(ctx, cfg.DataDir, dbOpts)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	// Nil when METRICS_ADDR is off: every instrument then records nothing.
	var meters *metrics.Metrics
	if cfg.MetricsAddr != "" {
		meters = metrics.New()
		meters.WatchPool(db.Pool())
		meters.WatchBacklog(db.Backlog, backlogTimeout)
	}
	ring, err := setUpKeys(ctx, cfg, db, log)
	if err != nil {
		return err
	}

	// Bind before building the verifier so PUBLIC_URL's default can carry the real port
	// when LISTEN_ADDR asks for port 0 (tests do).
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	if getenv("PUBLIC_URL") == "" {
		cfg.PublicURL = "http://" + ln.Addr().String()
	}

	// Every change records beside itself through one Recorder, the issuer's included:
	// its audit event and, for accounts with a subscribed endpoint or with the stream on,
	// its outbound event.
	subs := events.NewSubscriptions(db, 0)
	eventsCfg := events.Config{Stream: cfg.EventsNATSURL != "", Schedule: cfg.WebhookRetrySchedule}
	rec := app.NewRecorder(db, subs, eventsCfg)
	var is *issuer.Issuer
	var keys *auth.KeySet
	var clients auth.ClientChecker
	issuerURL := cfg.OIDCIssuerURL
	if cfg.BuiltInIssuer() {
		is, err = issuer.New(ctx, db, issuer.Config{
			URL: cfg.PublicURL, Audience: cfg.OIDCAudience, AccountClaim: cfg.AccountClaim, MaxLifetime: cfg.TokenMaxLifetime,
			Keys: ring, Recorder: rec,
		})
		if err != nil {
			return err
		}
		if err := is.EnsureOperator(ctx, cfg.AdminClientID, cfg.AdminClientSecret, stdout); err != nil {
			return err
		}
		keys = auth.NewKeySet(is.FetchKeys, 30*time.Second)
		clients = is
		issuerURL = cfg.PublicURL
	} else {
		keys = auth.NewKeySet(auth.DiscoveredJWKS(&http.Client{Timeout: 10 * time.Second}, cfg.OIDCIssuerURL), 30*time.Second)
		if err := checkIssuer(ctx, keys, log); err != nil {
			return err
		}
	}
	verifier := auth.NewVerifier(auth.Config{
		Issuer: issuerURL, Audience: cfg.OIDCAudience, AccountClaim: cfg.AccountClaim,
		MaxLifetime: cfg.TokenMaxLifetime, KeySet: keys, Clients: clients, Logger: log,
		Observe: meters.TokenVerified,
	})

	var revoked func()
	if is != nil {
		revoked = is.ForgetClients
	}
	var stream *events.StreamConfig
	if cfg.EventsNATSURL != "" {
		stream = &events.StreamConfig{URL: cfg.EventsNATSURL}
	}
	svc := app.New(db, app.Config{
		Keys: ring, Recorder: rec, Logger: log, OnClientsRevoked: revoked, WebhookAllowPrivateNetworks: cfg.WebhookAllowPrivateNetworks,
		Subscriptions: subs, Events: eventsCfg, Delivery: &webhooks.WorkerConfig{ID: workerID(), Retention: cfg.WebhookRetention},
		Stream:         stream,
		GroupCommit:    routing.GroupCommit{MaxBatch: cfg.GroupCommitMaxBatch, MaxWait: cfg.GroupCommitMaxWait, Writers: routing.DefaultGroupCommit.Writers},
		TracerProvider: traces.TracerProvider(),
		Metrics:        meters,
	})
	// shutdown stops it within SHUTDOWN_TIMEOUT; this covers the paths that return early.
	defer svc.Close()
	go purgeIdempotencyKeys(ctx, svc.Idempotency, log)
	// The audit chainer links the events every audited write leaves unchained. It stops
	// with ctx, and run waits for it, so no chaining transaction outlives the pool.
	chainerCtx, stopChainer := context.WithCancel(ctx)
	chainerDone := make(chan struct{})
	go func() {
		defer close(chainerDone)
		svc.Audit.RunAuditChainer(chainerCtx, auditChainInterval)
	}()
	defer func() {
		stopChainer()
		<-chainerDone
	}()
	limits, closeLimits, err := rateLimits(cfg, log)
	if err != nil {
		return err
	}
	defer closeLimits()
	handler := httpapi.NewServer(httpapi.Deps{
		Tenancy:     svc.Tenancy,
		Cards:       svc.Cards,
		Routing:     svc.Routing,
		Ledger:      svc.Ledger,
		Idempotency: svc.Idempotency,
		Compliance:  svc.Compliance,
		Audit:       svc.Audit,
		Webhooks:    svc.Webhooks,
		Verifier:    verifier,
		Issuer:      is,
		Ready:       db.Ping,
		Logger:      log,

		RequestTimeout: cfg.RequestTimeout,
		Limits:         limits,
		TracerProvider: traces.TracerProvider(),
		Metrics:        meters,
	})
	// A request's body must arrive within its deadline, and its answer (a 503 at the
	// deadline included) gets a few seconds more to be written. Every request's context
	// derives from requests, which a shutdown running out of time cancels.
	requests, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.RequestTimeout,
		WriteTimeout:      cfg.RequestTimeout + writeSlack,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return requests },
	}
	if meters != nil {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, meters, stdout, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("public_url", cfg.PublicURL))
	fmt.Fprintf(stdout, "subaccountd listening on http://%s\n", ln.Addr())

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if err := shutdown(srv, svc, cfg.ShutdownTimeout, cancelRequests, log); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// shutdown stops srv and svc within timeout in total, whatever the database does: it
// stops accepting, lets the running requests finish and the group commit write what is
// queued. A little before the deadline it cancels what still runs — the requests'
// contexts and the group commit's transactions — so each such request is answered (503)
// while its connection is still open and nothing commits without its answer. It returns
// nil when everything drained in time, and an error (logged) when the deadline forced it.
func shutdown(srv *http.Server, svc *app.Services, timeout time.Duration, cancelRequests func(), log *slog.Logger) error {
	start := time.Now()
	log.Info("shutting down", slog.String("timeout", timeout.String()))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Cancelled requests need a moment to write their answers before the deadline.
	answer := min(2*time.Second, timeout/4)
	forceCtx, force := context.WithTimeout(ctx, timeout-answer)
	defer force()
	go func() {
		<-forceCtx.Done()
		if errors.Is(forceCtx.Err(), context.DeadlineExceeded) {
			cancelRequests()
			_ = svc.Shutdown(forceCtx)
		}
	}()
	httpErr := srv.Shutdown(ctx)
	if httpErr != nil {
		// Connections still open past the deadline are dropped; the group commit was
		// cancelled before, so none of them waits on a commit.
		_ = srv.Close()
	}
	svcErr := svc.Shutdown(ctx)
	forced := errors.Is(forceCtx.Err(), context.DeadlineExceeded)
	force()
	if err := errors.Join(httpErr, svcErr); err != nil || forced {
		log.Error("shutdown forced by SHUTDOWN_TIMEOUT: requests still running were cancelled",
			slog.String("timeout", timeout.String()), slog.Any("error", err))
		return fmt.Errorf("shutdown: not drained within SHUTDOWN_TIMEOUT (%s)", timeout)
	}
	log.Info("shut down", slog.String("took", time.Since(start).Round(time.Millisecond).String()))
	return nil
}

// flushTraces exports the spans still queued and stops the exporter, for at most
// timeout (and 5 s): an unreachable collector must not hold the exit.
func flushTraces(t *tracing.Tracing, timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), min(timeout, 5*time.Second))
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		log.Warn("traces not flushed", slog.String("error", err.Error()))
	}
}

// workerID names this replica's delivery claims: host and process, and a random part
// so a restarted process never mistakes an earlier one's claims for its own.
func workerID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
}

// backlogTimeout bounds the database read of the queues at each scrape.
const backlogTimeout = 2 * time.Second

// serveMetrics serves GET /metrics and /debug/pprof/ on addr, a listener of their own
// (never the public one), until the returned function stops it.
func serveMetrics(addr string, m *metrics.Metrics, stdout io.Writer, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: a CPU profile streams for as long as it was asked to run.
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics listening", slog.String("addr", ln.Addr().String()))
	fmt.Fprintf(stdout, "subaccountd metrics on http://%s\n", ln.Addr())
	return func() { _ = srv.Close() }, nil
}

// writeSlack is how long past the request deadline an answer may take to be written.
const writeSlack = 5 * time.Second

// rateLimits builds the limiter: per replica, or shared through Redis with the
// per-replica one standing in while Redis is unreachable. A Redis that is down at start
// does not stop the service either.
func rateLimits(cfg config.Config, log *slog.Logger) (httpapi.Limits, func(), error) {
	l := httpapi.Limits{
		ClientRate: cfg.ClientRateLimit, TokenFailures: cfg.TokenFailureLimit, TrustForwardedFor: cfg.TrustForwardedFor,
	}
	local := ratelimit.NewMemory(0)
	if cfg.RedisURL == "" {
		l.Limiter = local
		return l, func() {}, nil
	}
	ratelimit.LogRedisTo(log)
	rdb, err := ratelimit.NewRedisClient(cfg.RedisURL, ratelimit.DefaultRedisTimeout)
	if err != nil {
		return l, nil, err
	}
	l.Limiter = ratelimit.NewFallback(ratelimit.NewRedis(rdb, "subaccounts:", ratelimit.DefaultRedisTimeout), local, log)
	return l, func() { _ = rdb.Close() }, nil
}

// auditChainInterval is how often the audit chainer looks for unchained events: the
// longest an event stays outside the hash chain when nobody reads the log.
const auditChainInterval = 200 * time.Millisecond

// checkIssuer fetches the external issuer's discovery document and key set once at
// start. An issuer that answers with an unusable document is a configuration mistake and
// stops the start; one that cannot be reached yet (started beside the service, say) is
// not: the service starts, answers tokens 503 while it is away, and the key set retries
// with its backoff.
func checkIssuer(ctx context.Context, keys *auth.KeySet, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := keys.Refresh(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrBadDiscovery):
		return fmt.Errorf("OIDC_ISSUER_URL: %w", err)
	}
	log.Warn("external issuer unreachable; tokens are answered 503 until it is back", slog.String("error", err.Error()))
	return nil
}

// purgeIdempotencyKeys deletes expired idempotency keys at start and then hourly until
// ctx ends. Every replica does so; the deletes are idempotent.
func purgeIdempotencyKeys(ctx context.Context, svc *idempotency.Service, log *slog.Logger) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := svc.Purge(ctx); err != nil && ctx.Err() == nil {
			log.Warn("purging idempotency keys", slog.String("error", err.Error()))
		} else if n > 0 {
			log.Info("purged idempotency keys", slog.Int64("deleted", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
