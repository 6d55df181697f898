package tracing

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Config is the tracing configuration read from the OTEL_* variables.
type Config struct {
	// Enabled is true when an OTLP endpoint is set and the SDK is not disabled.
	Enabled bool
	// EndpointURL is where spans are posted (OTLP/HTTP, protobuf), path included.
	EndpointURL string
	// Options are the provider's options the variables ask for.
	Options Options
}

// LoadConfig reads the standard OpenTelemetry variables this service honours through
// getenv, as the specification defines them: OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER
// (otlp or none), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or
// OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces), OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and its _ARG, and OTEL_BSP_* (in
// milliseconds and spans). The SDK would read most of them from the process
// environment on its own; reading them here keeps getenv the one source, as for every
// other variable, and lets a bad value stop the start with its name.
func LoadConfig(getenv func(string) string) (Config, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var cfg Config
	if strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") {
		return cfg, nil
	}
	switch exp := get("OTEL_TRACES_EXPORTER"); exp {
	case "", "otlp":
	case "none":
		return cfg, nil
	default:
		return cfg, fmt.Errorf("%w: OTEL_TRACES_EXPORTER: %q is not supported (otlp or none)", errConfig, exp)
	}
	endpoint, err := endpointURL(get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), get("OTEL_EXPORTER_OTLP_ENDPOINT"))
	if err != nil || endpoint == "" {
		return cfg, err
	}
	if p := get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"); p != "" && p != "http/protobuf" {
		return cfg, fmt.Errorf("%w: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: %q is not supported (http/protobuf)", errConfig, p)
	}
	if p := get("OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" && p != "http/protobuf" {
		return cfg, fmt.Errorf("%w: OTEL_EXPORTER_OTLP_PROTOCOL: %q is not supported (http/protobuf)", errConfig, p)
	}
	cfg.Enabled, cfg.EndpointURL = true, endpoint
	cfg.Options.ServiceName = get("OTEL_SERVICE_NAME")
	if cfg.Options.Resource, err = resourceAttributes(get("OTEL_RESOURCE_ATTRIBUTES")); err != nil {
		return cfg, err
	}
	if cfg.Options.Sampler, err = sampler(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG")); err != nil {
		return cfg, err
	}
	cfg.Options.Batch, err = batchOptions(get)
	return cfg, err
}

// endpointURL is the traces URL: the signal's own endpoint as given, or the generic one
// with the signal's path appended; "" when neither is set.
func endpointURL(traces, generic string) (string, error) {
	var u, name string
	switch {
	case traces != "":
		u, name = traces, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	case generic != "":
		u, name = strings.TrimSuffix(generic, "/")+"/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT"
	default:
		return "", nil
	}
	p, perr := url.Parse(u)
	if perr != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return "", fmt.Errorf("%w: %s: want an http:// or https:// URL", errConfig, name)
	}
	return u, nil
}

// resourceAttributes reads OTEL_RESOURCE_ATTRIBUTES: key=value pairs separated by
// commas, values percent-encoded.
func resourceAttributes(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: OTEL_RESOURCE_ATTRIBUTES: want key=value pairs separated by commas", errConfig)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%w: OTEL_RESOURCE_ATTRIBUTES: %s: bad percent-encoding", errConfig, k)
		}
		out[k] = dv
	}
	return out, nil
}

// sampler reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG; the default is
// parentbased_always_on, which follows a caller's sampling decision in traceparent.
func sampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("%w: OTEL_TRACES_SAMPLER_ARG: want a ratio from 0 to 1", errConfig)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("%w: OTEL_TRACES_SAMPLER: %q is not supported (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio)", errConfig, name)
}

// batchOptions reads the batch span processor's variables.
func batchOptions(get func(string) string) ([]sdktrace.BatchSpanProcessorOption, error) {
	var out []sdktrace.BatchSpanProcessorOption
	vars := []struct {
		name string
		opt  func(n int) sdktrace.BatchSpanProcessorOption
	}{
		{"OTEL_BSP_SCHEDULE_DELAY", func(n int) sdktrace.BatchSpanProcessorOption {
			return sdktrace.WithBatchTimeout(time.Duration(n) * time.Millisecond)
		}},
		{"OTEL_BSP_EXPORT_TIMEOUT", func(n int) sdktrace.BatchSpanProcessorOption {
			return sdktrace.WithExportTimeout(time.Duration(n) * time.Millisecond)
		}},
		{"OTEL_BSP_MAX_QUEUE_SIZE", sdktrace.WithMaxQueueSize},
		{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", sdktrace.WithMaxExportBatchSize},
	}
	for _, v := range vars {
		s := get(v.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: %s: want a positive integer", errConfig, v.name)
		}
		out = append(out, v.opt(n))
	}
	return out, nil
}
