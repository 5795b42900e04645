package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/sesq/sesq/idempotency"
	"github.com/sesq/sesq/internal/awsclient"
	"github.com/sesq/sesq/internal/emulator"
)

var dynamoURL string

func TestMain(m *testing.M) {
	dir, err := emulator.Dir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	p, err := emulator.StartDynalite(context.Background(), dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dynamoURL = p.URL
	code := m.Run()
	p.Stop()
	os.Exit(code)
}

var tables atomic.Int64

// newTable creates a table as the Terraform module does, in dynalite. Its
// TTL is not enabled: dynalite does not delete expired items, and the store
// must not need it to.
func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	c := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		BaseEndpoint: aws.String(dynamoURL), HTTPClient: awsclient.HTTPClient(0),
	})
	name := fmt.Sprintf("sesq-idempotency-%d", tables.Add(1))
	_, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return c, name
}

// TestDynamoDB runs the stores' shared tests and DynamoDB's own against
// one dynalite table; every test uses keys of its own.
func TestDynamoDB(t *testing.T) {
	client, table := newTable(t)
	newStore := func(t *testing.T, c *clock) store {
		return &idempotency.DynamoDB{Client: client, Table: table, SentTTL: sentTTL, Now: c.Now}
	}
	get := func(t *testing.T, key string) map[string]types.AttributeValue {
		t.Helper()
		out, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{
			TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: key}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	put := func(t *testing.T, item map[string]types.AttributeValue) {
		t.Helper()
		if _, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()

	t.Run("semantics", func(t *testing.T) { testSemantics(t, newStore) })
	t.Run("lapsed claim retaken", func(t *testing.T) { testLapsedClaimRetaken(t, newStore) })
	t.Run("renew keeps claim", func(t *testing.T) { testRenewKeepsClaim(t, newStore) })
	t.Run("bad calls", func(t *testing.T) { testBadCalls(t, newStore(t, &clock{t: t0})) })

	t.Run("20 owners, one claim", func(t *testing.T) {
		testOneClaimWins(t, &idempotency.DynamoDB{Client: client, Table: table, SentTTL: sentTTL}, 20)
	})

	t.Run("renew by another owner", func(t *testing.T) {
		c := &clock{t: t0}
		s := newStore(t, c)
		wantClaim(t, s, ctx, t.Name(), "A", claimNew)
		if err := s.Renew(ctx, t.Name(), "B", time.Hour); !errors.Is(err, idempotency.ErrNotOwner) {
			t.Fatalf("Renew by B = %v, want ErrNotOwner", err)
		}
		if got, want := get(t, t.Name())["expires"], strconv.FormatInt(t0.Add(claimTTL).Unix(), 10); got.(*types.AttributeValueMemberN).Value != want {
			t.Errorf("expires = %v after a refused Renew, want %s", got, want)
		}
	})

	// The items are what the Terraform module's TTL attribute expects.
	t.Run("items", func(t *testing.T) {
		c := &clock{t: t0}
		s := newStore(t, c)
		k := t.Name()
		wantClaim(t, s, ctx, k, "A", claimNew)
		wantItem(t, get(t, k), k, "in-progress", "A", t0.Add(claimTTL).Unix())
		c.at(10 * time.Second)
		if err := s.Done(ctx, k, "A"); err != nil {
			t.Fatal(err)
		}
		wantItem(t, get(t, k), k, "sent", "A", t0.Add(10*time.Second+sentTTL).Unix())
	})

	// Stored times are whole seconds: expiries round up, so nothing lapses
	// early, and up to a second late.
	t.Run("rounding", func(t *testing.T) {
		c := &clock{t: t0}
		s := newStore(t, c)
		k := t.Name()
		c.at(500 * time.Millisecond) // claimed until 30.5s, stored as 31s
		wantClaim(t, s, ctx, k, "A", claimNew)
		c.at(31*time.Second - time.Nanosecond)
		wantClaim(t, s, ctx, k, "B", inProgressUntil(31*time.Second))
		c.at(31 * time.Second)
		wantClaim(t, s, ctx, k, "B", claimNew)
		c.at(31*time.Second + 500*time.Millisecond) // sent until 1h31.5s, stored as 1h32s
		if err := s.Done(ctx, k, "B"); err != nil {
			t.Fatal(err)
		}
		c.at(sentTTL + 32*time.Second - time.Nanosecond)
		wantClaim(t, s, ctx, k, "C", claimSent)
		c.at(sentTTL + 32*time.Second)
		wantClaim(t, s, ctx, k, "C", claimNew)
	})

	// A Done whose expiry would be earlier than the sent record's (a
	// worker with a shorter SentTTL) leaves the record as it is.
	t.Run("done keeps the later expiry", func(t *testing.T) {
		c := &clock{t: t0}
		k := t.Name()
		long := &idempotency.DynamoDB{Client: client, Table: table, SentTTL: 2 * sentTTL, Now: c.Now}
		if err := long.Done(ctx, k, "B"); err != nil {
			t.Fatal(err)
		}
		c.at(29 * time.Second)
		if err := newStore(t, c).Done(ctx, k, "A"); err != nil {
			t.Fatalf("Done on a key sent until later = %v", err)
		}
		wantItem(t, get(t, k), k, "sent", "B", t0.Add(2*sentTTL).Unix())
	})

	// Items an earlier sesq wrote have no owner: their claims are nobody's,
	// so nobody can renew, release or re-claim them before they lapse.
	t.Run("items without an owner", func(t *testing.T) {
		c := &clock{t: t0}
		s := newStore(t, c)
		k := t.Name()
		put(t, map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: k}, "state": &types.AttributeValueMemberS{Value: "in-progress"},
			"expires": &types.AttributeValueMemberN{Value: strconv.FormatInt(t0.Add(claimTTL).Unix(), 10)},
		})
		wantClaim(t, s, ctx, k, "A", inProgressUntil(claimTTL))
		if err := s.Done(ctx, k, "A"); !errors.Is(err, idempotency.ErrNotOwner) {
			t.Errorf("Done on an earlier sesq's live claim = %v, want ErrNotOwner", err)
		}
		c.at(claimTTL)
		wantClaim(t, s, ctx, k, "A", claimNew)

		put(t, map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: k + "/sent"}, "state": &types.AttributeValueMemberS{Value: "sent"},
			"expires": &types.AttributeValueMemberN{Value: strconv.FormatInt(t0.Add(sentTTL).Unix(), 10)},
		})
		wantClaim(t, s, ctx, k+"/sent", "A", claimSent)
	})

	t.Run("no SentTTL", func(t *testing.T) {
		s := &idempotency.DynamoDB{Client: client, Table: table}
		if err := s.Done(ctx, t.Name(), "A"); err == nil || errors.Is(err, idempotency.ErrNotOwner) {
			t.Errorf("Done with no SentTTL = %v, want an error", err)
		}
		if it := get(t, t.Name()); it != nil {
			t.Errorf("Done with no SentTTL wrote %v", it)
		}
	})
}

func wantItem(t *testing.T, it map[string]types.AttributeValue, key, state, owner string, expires int64) {
	t.Helper()
	want := map[string]types.AttributeValue{
		"pk":      &types.AttributeValueMemberS{Value: key},
		"state":   &types.AttributeValueMemberS{Value: state},
		"owner":   &types.AttributeValueMemberS{Value: owner},
		"expires": &types.AttributeValueMemberN{Value: strconv.FormatInt(expires, 10)},
	}
	if len(it) != len(want) {
		t.Fatalf("item = %v, want %v", it, want)
	}
	for name, w := range want {
		if fmt.Sprint(it[name]) != fmt.Sprint(w) {
			t.Errorf("item %s = %v, want %v", name, it[name], w)
		}
	}
}

// An unreachable store is an error, never New; the worker answers it by
// sending anyway (at least once).
func TestDynamoDBUnreachable(t *testing.T) {
	c := dynamodb.New(dynamodb.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:1"), RetryMaxAttempts: 1})
	s := &idempotency.DynamoDB{Client: c, Table: "t", SentTTL: time.Hour}
	ctx := context.Background()
	cl, err := s.Claim(ctx, "k", "A", time.Minute)
	if cl != (idempotency.Claim{}) {
		t.Errorf("Claim = %+v with the error, want the zero Claim", cl)
	}
	for what, err := range map[string]error{
		`claim idempotency key "k" for "A": `:         err,
		`renew idempotency claim on "k" for "A": `:    s.Renew(ctx, "k", "A", time.Minute),
		`record idempotency key "k" as sent by "A": `: s.Done(ctx, "k", "A"),
		`release idempotency claim on "k" for "A": `:  s.Release(ctx, "k", "A"),
	} {
		var opErr *smithy.OperationError
		if err == nil || errors.Is(err, idempotency.ErrNotOwner) || !strings.HasPrefix(err.Error(), what) || !errors.As(err, &opErr) {
			t.Errorf("%s: %v, want a wrapped connection error", what, err)
		}
	}
}
