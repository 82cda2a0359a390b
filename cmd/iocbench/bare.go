package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// bareCommand is the hidden subcommand that runs the bare loop:
// `iocbench bare --url URL --file FILE --enclave UUID`. main re-executes
// its own binary with it, so the bare loop's CPU and RSS are measured as
// iocpipe's are.
const bareCommand = "bare"

// bareOptions configure the bare loop.
type bareOptions struct {
	url     string
	file    string
	enclave string
	tag     string
	workers int
	batch   int
	key     string
	secret  string
}

// Bodies of POST /api/1.3/indicators, as the bare loop encodes them.
type (
	bareTag struct {
		Name      string `json:"name"`
		EnclaveID string `json:"enclaveId"`
	}
	bareIndicator struct {
		Value     string    `json:"value"`
		FirstSeen int64     `json:"firstSeen,omitempty"`
		LastSeen  int64     `json:"lastSeen,omitempty"`
		Sightings int       `json:"sightings,omitempty"`
		Source    string    `json:"source,omitempty"`
		Notes     string    `json:"notes,omitempty"`
		Tags      []bareTag `json:"tags,omitempty"`
	}
	bareSubmission struct {
		EnclaveIDs []string        `json:"enclaveIds"`
		Content    []bareIndicator `json:"content"`
		Tags       []bareTag       `json:"tags,omitempty"`
	}
)

// runBare parses the bare subcommand's arguments and runs the loop.
func runBare(ctx context.Context, args []string) error {
	o := bareOptions{key: os.Getenv("TRUSTAR_API_KEY"), secret: os.Getenv("TRUSTAR_API_SECRET")}
	fs := flag.NewFlagSet(bareCommand, flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "", "TruSTAR API base URL")
	fs.StringVar(&o.file, "file", "", "CSV file to import")
	fs.StringVar(&o.enclave, "enclave", benchEnclave, "enclave UUID")
	fs.StringVar(&o.tag, "tag", "bench", "submission tag")
	fs.IntVar(&o.workers, "workers", 4, "concurrent requests")
	fs.IntVar(&o.batch, "batch", 10000, "indicators per submission")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.url == "" || o.file == "" || o.workers < 1 || o.batch < 1 {
		return errors.New("bare: --url and --file are required; --workers and --batch must be positive")
	}
	n, err := bareLoop(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("bare: sent %d indicators\n", n)
	return nil
}

// bareLoop is the minimal import the benchmark compares iocpipe with:
// encoding/csv, batches of o.batch rows, bodies encoded with
// encoding/json and POSTed by o.workers workers with one token. It returns
// the number of indicators sent.
func bareLoop(ctx context.Context, o bareOptions) (int, error) {
	client := &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.workers},
	}
	token, err := fetchToken(ctx, client, o)
	if err != nil {
		return 0, err
	}
	f, err := os.Open(o.file)
	if err != nil {
		return 0, fmt.Errorf("bare: %w", err)
	}
	defer f.Close()

	g, ctx := errgroup.WithContext(ctx)
	batches := make(chan []bareIndicator, o.workers)
	var sent int
	g.Go(func() error {
		defer close(batches)
		n, err := readBatches(ctx, f, o, batches)
		sent = n
		return err
	})
	for range o.workers {
		g.Go(func() error {
			for b := range batches {
				if err := postBatch(ctx, client, o, token, b); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return sent, nil
}

// readBatches reads the CSV file r and sends its rows to out in batches of
// o.batch; it returns the number of rows read.
func readBatches(ctx context.Context, r io.Reader, o bareOptions, out chan<- []bareIndicator) (int, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<16))
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return 0, fmt.Errorf("bare: reading the header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, h := range csvHeader {
		if _, ok := col[h]; !ok {
			return 0, fmt.Errorf("bare: the header has no %q column", h)
		}
	}
	n := 0
	batch := make([]bareIndicator, 0, o.batch)
	flush := func() error {
		select {
		case out <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
		batch = make([]bareIndicator, 0, o.batch)
		return nil
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("bare: %w", err)
		}
		in, err := parseRow(rec, col, o.enclave)
		if err != nil {
			line, _ := cr.FieldPos(0)
			return n, fmt.Errorf("bare: line %d: %w", line, err)
		}
		batch = append(batch, in)
		n++
		if len(batch) == o.batch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if len(batch) > 0 {
		return n, flush()
	}
	return n, nil
}

// parseRow turns one CSV record into an indicator: RFC 3339 timestamps
// (Z or ±hh:mm) to epoch milliseconds, the sightings count, the tags
// split on their separators and trimmed. It copies the strings it keeps,
// since the reader reuses the record.
func parseRow(rec []string, col map[string]int, enclave string) (bareIndicator, error) {
	first, err := time.Parse(time.RFC3339, rec[col["first_seen"]])
	if err != nil {
		return bareIndicator{}, fmt.Errorf("first_seen: %w", err)
	}
	last, err := time.Parse(time.RFC3339, rec[col["last_seen"]])
	if err != nil {
		return bareIndicator{}, fmt.Errorf("last_seen: %w", err)
	}
	sightings, err := strconv.Atoi(rec[col["sightings"]])
	if err != nil {
		return bareIndicator{}, fmt.Errorf("sightings: %w", err)
	}
	in := bareIndicator{
		Value:     strings.Clone(rec[col["value"]]),
		FirstSeen: first.UnixMilli(),
		LastSeen:  last.UnixMilli(),
		Sightings: sightings,
		Source:    strings.Clone(rec[col["source"]]),
		Notes:     strings.Clone(rec[col["notes"]]),
	}
	for t := range strings.FieldsFuncSeq(rec[col["tags"]], isTagSep) {
		if t = strings.TrimSpace(t); t != "" {
			in.Tags = append(in.Tags, bareTag{Name: strings.Clone(t), EnclaveID: enclave})
		}
	}
	return in, nil
}

// isTagSep reports the characters that separate the tags of a tags field:
// ';' and ',' (the generated files use both) and '|'.
func isTagSep(r rune) bool { return r == ';' || r == ',' || r == '|' }

// fetchToken gets an OAuth token with the client-credentials grant.
func fetchToken(ctx context.Context, client *http.Client, o bareOptions) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("bare: token request: %w", err)
	}
	req.SetBasicAuth(o.key, o.secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("bare: token request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return "", fmt.Errorf("bare: token request: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return "", fmt.Errorf("bare: decoding the token: %w", err)
	}
	if tok.AccessToken == "" {
		return "", errors.New("bare: the token answer holds no access_token")
	}
	return tok.AccessToken, nil
}

// postBatch encodes one submission and POSTs it.
func postBatch(ctx context.Context, client *http.Client, o bareOptions, token string, content []bareIndicator) error {
	body, err := json.Marshal(bareSubmission{
		EnclaveIDs: []string{o.enclave},
		Content:    content,
		Tags:       []bareTag{{Name: o.tag, EnclaveID: o.enclave}},
	})
	if err != nil {
		return fmt.Errorf("bare: encoding a submission: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url+"/api/1.3/indicators", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("bare: submission request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("bare: submitting %d indicators: %w", len(content), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("bare: submitting %d indicators: %s: %s", len(content), resp.Status, bytes.TrimSpace(msg))
	}
	_, err = io.Copy(io.Discard, resp.Body) // so the connection is reused
	return err
}
