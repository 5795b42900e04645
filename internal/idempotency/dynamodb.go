package idempotency

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDBAPI is the DynamoDB calls the store makes; *dynamodb.Client has
// them.
type DynamoDBAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// DynamoDB is the store for a fleet: one item per key in a table with the
// partition key "pk" (string) and the TTL attribute "expires" (epoch
// seconds). A claim is a conditional write of an in-progress marker, so two
// workers never send the same key at once; the marker expires after
// InProgressTTL, so a worker that died mid-send does not block the key for
// long. A sent key is kept for TTL.
type DynamoDB struct {
	Client        DynamoDBAPI
	Table         string
	TTL           time.Duration // how long a sent key is remembered
	InProgressTTL time.Duration // how long a claim holds
	Now           func() time.Time
}

const (
	stateInProgress = "in-progress"
	stateSent       = "sent"
)

func (d *DynamoDB) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func epoch(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

// Begin claims key with a conditional write: it succeeds when the key is
// unknown or its item expired (DynamoDB's TTL deletes lazily).
func (d *DynamoDB) Begin(ctx context.Context, key string) (State, error) {
	now := d.now()
	_, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table),
		Item: map[string]types.AttributeValue{
			"pk":      &types.AttributeValueMemberS{Value: key},
			"state":   &types.AttributeValueMemberS{Value: stateInProgress},
			"expires": epoch(now.Add(d.InProgressTTL)),
		},
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR expires < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": epoch(now)},
	})
	if err == nil {
		return New, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return New, fmt.Errorf("claim idempotency key: %w", err)
	}
	out, err := d.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(d.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: key}},
	})
	if err != nil {
		return New, fmt.Errorf("read idempotency key: %w", err)
	}
	if s, ok := out.Item["state"].(*types.AttributeValueMemberS); ok && s.Value == stateSent {
		return Sent, nil
	}
	return InProgress, nil
}

// Done records that SES accepted key.
func (d *DynamoDB) Done(ctx context.Context, key string) error {
	_, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.Table),
		Item: map[string]types.AttributeValue{
			"pk":      &types.AttributeValueMemberS{Value: key},
			"state":   &types.AttributeValueMemberS{Value: stateSent},
			"expires": epoch(d.now().Add(d.TTL)),
		},
	})
	if err != nil {
		return fmt.Errorf("record idempotency key: %w", err)
	}
	return nil
}

// Release removes a claim that did not end in a send (never a sent key).
func (d *DynamoDB) Release(ctx context.Context, key string) error {
	_, err := d.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(d.Table),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: key}},
		ConditionExpression:       aws.String("#s = :inprogress"),
		ExpressionAttributeNames:  map[string]string{"#s": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":inprogress": &types.AttributeValueMemberS{Value: stateInProgress}},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}
