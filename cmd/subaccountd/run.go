package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/cardseg/subaccounts/internal/auth"
	"github.com/cardseg/subaccounts/internal/config"
	"github.com/cardseg/subaccounts/internal/httpapi"
	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/ratelimit"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// run starts the server and blocks until ctx is cancelled, then shuts down gracefully.
// Logs go to stderr as JSON; stdout carries only what a person must see once (the
// generated operator credentials) and the "listening" line.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := slog.New(httpapi.LogHandler(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))
	log.Info("starting", slog.Any("config", cfg))

	var db *store.DB
	if cfg.DatabaseURL != "" {
		db, err = store.OpenPostgres(ctx, cfg.DatabaseURL, store.Options{Logger: log})
	} else {
		db, err = store.OpenSQLite(ctx, cfg.DataDir, store.Options{Logger: log})
	}
	if err != nil {
		return err
	}
	defer db.Close()

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

	var is *issuer.Issuer
	var keys *auth.KeySet
	var clients auth.ClientChecker
	issuerURL := cfg.OIDCIssuerURL
	if cfg.BuiltInIssuer() {
		is, err = issuer.New(ctx, db, issuer.Config{
			URL: cfg.PublicURL, Audience: cfg.OIDCAudience, AccountClaim: cfg.AccountClaim, MaxLifetime: cfg.TokenMaxLifetime,
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
		jwksURL, err := discover(ctx, cfg.OIDCIssuerURL, log)
		if err != nil {
			return err
		}
		keys = auth.NewKeySet(auth.RemoteJWKS(&http.Client{Timeout: 10 * time.Second}, jwksURL), 30*time.Second)
	}
	verifier := auth.NewVerifier(auth.Config{
		Issuer: issuerURL, Audience: cfg.OIDCAudience, AccountClaim: cfg.AccountClaim,
		MaxLifetime: cfg.TokenMaxLifetime, KeySet: keys, Clients: clients,
	})

	fingerprints, generated, err := subaccounts.LoadFingerprinter(ctx, db, cfg.CardFingerprintKey, cfg.CardFingerprintKeyVersion)
	if err != nil {
		return err
	}
	if generated {
		log.Info("generated the card fingerprint key and stored it in the database; set CARD_FINGERPRINT_KEY to manage it yourself")
	}
	opts := []subaccounts.Option{
		subaccounts.WithFingerprinter(fingerprints),
		subaccounts.WithGroupCommit(subaccounts.GroupCommit{
			MaxBatch: cfg.GroupCommitMaxBatch, MaxWait: cfg.GroupCommitMaxWait, Writers: subaccounts.DefaultGroupCommit.Writers,
		}),
	}
	if is != nil {
		opts = append(opts, subaccounts.OnClientsRevoked(is.ForgetClients))
	}
	opts = append(opts, subaccounts.WithLogger(log))
	svc := subaccounts.NewService(db, opts...)
	// Runs after the HTTP server stopped: messages already queued are still written.
	defer svc.Close()
	go purgeIdempotencyKeys(ctx, svc, log)
	// The audit chainer links the events every audited write leaves unchained. It stops
	// with ctx, and run waits for it, so no chaining transaction outlives the pool.
	chainerCtx, stopChainer := context.WithCancel(ctx)
	chainerDone := make(chan struct{})
	go func() {
		defer close(chainerDone)
		svc.RunAuditChainer(chainerCtx, auditChainInterval)
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
		Service:  svc,
		Verifier: verifier,
		Issuer:   is,
		Ready:    db.Ping,
		Logger:   log,
		Limits:   limits,
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
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
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

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

// discover reads the external issuer's discovery document, retrying for a while because
// an issuer started beside the service (docker compose) may come up later.
func discover(ctx context.Context, issuerURL string, log *slog.Logger) (string, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, err := oidc.NewProvider(ctx, issuerURL)
		if err == nil {
			var meta struct {
				JWKSURI string `json:"jwks_uri"`
			}
			if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
				return "", fmt.Errorf("OIDC_ISSUER_URL: discovery document has no jwks_uri")
			}
			return meta.JWKSURI, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("OIDC_ISSUER_URL: discovery failed: %w", err)
		}
		log.Warn("issuer discovery failed; retrying", slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// purgeIdempotencyKeys deletes expired idempotency keys at start and then hourly until
// ctx ends. Every replica does so; the deletes are idempotent.
func purgeIdempotencyKeys(ctx context.Context, svc *subaccounts.Service, log *slog.Logger) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := svc.PurgeIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
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
