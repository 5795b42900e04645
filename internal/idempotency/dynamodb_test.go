package idempotency_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sesq/sesq/internal/emulator"
	"github.com/sesq/sesq/internal/idempotency"
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

// newTable creates a table as the Terraform module does, in dynalite.
func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	c := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		BaseEndpoint: aws.String(dynamoURL),
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

func TestDynamoDBStore(t *testing.T) {
	ctx := context.Background()
	c, table := newTable(t)
	now := time.Now()
	s := &idempotency.DynamoDB{Client: c, Table: table, TTL: time.Hour, InProgressTTL: 30 * time.Second, Now: func() time.Time { return now }}
	if st, err := s.Begin(ctx, "a"); err != nil || st != idempotency.New {
		t.Fatalf("first Begin = %v, %v", st, err)
	}
	if st, _ := s.Begin(ctx, "a"); st != idempotency.InProgress {
		t.Fatalf("Begin while in progress = %v", st)
	}
	if err := s.Done(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Begin(ctx, "a"); st != idempotency.Sent {
		t.Fatalf("Begin after Done = %v", st)
	}
	if err := s.Release(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Begin(ctx, "a"); st != idempotency.Sent {
		t.Fatal("Release dropped a sent key")
	}
	s.Begin(ctx, "b")
	s.Release(ctx, "b")
	if st, _ := s.Begin(ctx, "b"); st != idempotency.New {
		t.Fatalf("Begin after Release = %v", st)
	}
	// A claim whose worker died expires.
	s.Begin(ctx, "c")
	now = now.Add(time.Minute)
	if st, _ := s.Begin(ctx, "c"); st != idempotency.New {
		t.Errorf("expired claim: %v, want New", st)
	}
	// And so does a sent key, after TTL.
	now = now.Add(2 * time.Hour)
	if st, _ := s.Begin(ctx, "a"); st != idempotency.New {
		t.Errorf("expired sent key: %v, want New", st)
	}
}

// Many workers claiming the same key at once: exactly one wins.
func TestDynamoDBStoreOneClaimWins(t *testing.T) {
	c, table := newTable(t)
	s := &idempotency.DynamoDB{Client: c, Table: table, TTL: time.Hour, InProgressTTL: time.Minute}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := s.Begin(context.Background(), "race"); err == nil && st == idempotency.New {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d claims won, want 1", wins.Load())
	}
}

// An unreachable store is an error, which the worker answers by sending
// anyway (at least once).
func TestDynamoDBStoreUnreachable(t *testing.T) {
	c := dynamodb.New(dynamodb.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:1"), RetryMaxAttempts: 1})
	s := &idempotency.DynamoDB{Client: c, Table: "t", TTL: time.Hour, InProgressTTL: time.Minute}
	if _, err := s.Begin(context.Background(), "k"); err == nil {
		t.Error("no error from an unreachable store")
	}
}
