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
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// DynamoDB is the store for a fleet: one item per key in a table with the
// partition key "pk" (string) and the TTL attribute "expires", so that
// every worker sees every claim and every send.
//
// An item is pk (S, the key), state (S: "in-progress" or "sent"), owner
// (S) and expires (N, epoch seconds). Every change is one conditional
// write, so two owners never both hold a key. expires is rounded up to the
// second, so a claim or record never lapses early, and is compared with the
// time rounded down: an item counts as gone once expires <= now, whether
// or not DynamoDB's TTL deletion (which is lazy, up to days late) has
// removed it. Claims lapse up to a second late, never early.
//
// The clocks of the workers sharing a table must agree to well within the
// claims' ttl: a worker whose clock runs ahead takes other owners' claims
// early.
//
// The calls need dynamodb:PutItem, GetItem, UpdateItem and DeleteItem on
// the table.
type DynamoDB struct {
	Client DynamoDBAPI
	Table  string
	// SentTTL is how long a sent key is remembered (SESQ_IDEMPOTENCY_TTL,
	// 24h): longer than a redelivery of the message can come. It must be
	// positive.
	SentTTL time.Duration
	Now     func() time.Time // nil: time.Now
}

// The item's attribute names and the state values, as stored.
const (
	attrKey         = "pk"
	attrState       = "state"
	attrOwner       = "owner"
	attrExpires     = "expires"
	stateInProgress = "in-progress"
	stateSent       = "sent"
)

// maxAttempts bounds the write-then-read rounds of Claim and Done: another
// round is only needed when the item changed between the write that failed
// its condition and the read that followed, which takes several other
// owners busy on the same key.
const maxAttempts = 4

func (d *DynamoDB) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Claim claims key for owner for ttl: New when the key is unknown, its
// claim lapsed, its sent record expired, or owner already holds it (whose
// claim then lasts ttl from now); InProgress when another owner's claim is
// live; Sent when a Done for it has not expired.
//
// The write's condition admits owner's own claim, so a re-claim is one
// write. When the condition fails a consistent read says why: dynalite 4
// ignores ReturnValuesOnConditionCheckFailure (its ConditionalCheckFailed
// error carries no item), so the tests could not cover the one-call path.
func (d *DynamoDB) Claim(ctx context.Context, key, owner string, ttl time.Duration) (Claim, error) {
	if err := checkCall(key, owner); err != nil {
		return Claim{}, fmt.Errorf("claim idempotency key %q for %q: %w", key, owner, err)
	}
	if err := checkTTL(ttl); err != nil {
		return Claim{}, fmt.Errorf("claim idempotency key %q for %q: %w", key, owner, err)
	}
	for range maxAttempts {
		t := d.now()
		now := t.Unix()
		_, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                aws.String(d.Table),
			Item:                     newItem(key, stateInProgress, owner, ceilUnix(t.Add(ttl))),
			ConditionExpression:      aws.String("attribute_not_exists(#pk) OR #expires <= :now OR (#state = :inprogress AND #owner = :owner)"),
			ExpressionAttributeNames: attrNames(),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now":        number(now),
				":inprogress": &types.AttributeValueMemberS{Value: stateInProgress},
				":owner":      &types.AttributeValueMemberS{Value: owner},
			},
		})
		if err == nil {
			return Claim{State: New}, nil
		}
		if !conditionFailed(err) {
			return Claim{}, fmt.Errorf("claim idempotency key %q for %q: %w", key, owner, err)
		}
		it, err := d.get(ctx, key)
		if err != nil {
			return Claim{}, fmt.Errorf("claim idempotency key %q for %q: read the item that refused the claim: %w", key, owner, err)
		}
		switch {
		case it == nil || it.expires <= now:
			// Released or lapsed since the write: claim again.
		case it.state == stateSent:
			return Claim{State: Sent}, nil
		case it.owner != owner:
			return Claim{State: InProgress, Expires: time.Unix(it.expires, 0).UTC()}, nil
		}
	}
	return Claim{}, fmt.Errorf("claim idempotency key %q for %q: the item changed under each of %d attempts", key, owner, maxAttempts)
}

// Renew moves owner's live claim on key to lapse ttl from now. ErrNotOwner
// when owner holds no live claim on it.
func (d *DynamoDB) Renew(ctx context.Context, key, owner string, ttl time.Duration) error {
	if err := checkCall(key, owner); err != nil {
		return fmt.Errorf("renew idempotency claim on %q for %q: %w", key, owner, err)
	}
	if err := checkTTL(ttl); err != nil {
		return fmt.Errorf("renew idempotency claim on %q for %q: %w", key, owner, err)
	}
	t := d.now()
	_, err := d.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(d.Table),
		Key:                      keyOf(key),
		UpdateExpression:         aws.String("SET #expires = :expires"),
		ConditionExpression:      aws.String("#owner = :owner AND #state = :inprogress AND #expires > :now"),
		ExpressionAttributeNames: attrNames("#pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":expires":    number(ceilUnix(t.Add(ttl))),
			":now":        number(t.Unix()),
			":inprogress": &types.AttributeValueMemberS{Value: stateInProgress},
			":owner":      &types.AttributeValueMemberS{Value: owner},
		},
	})
	if conditionFailed(err) {
		err = ErrNotOwner
	}
	if err != nil {
		return fmt.Errorf("renew idempotency claim on %q for %q: %w", key, owner, err)
	}
	return nil
}

// Done records that SES accepted key, for SentTTL from now. ErrNotOwner,
// and nothing changes, when another owner's claim is live.
//
// On a key already sent it keeps the later expiry: the write replaces a
// sent item only when its own expiry is not earlier, and otherwise leaves
// it. Either way the sent item's owner is whoever last moved its expiry;
// nothing reads the owner of a sent item, since Renew, Release and a
// re-claim all require state in-progress.
func (d *DynamoDB) Done(ctx context.Context, key, owner string) error {
	if err := checkCall(key, owner); err != nil {
		return fmt.Errorf("record idempotency key %q as sent by %q: %w", key, owner, err)
	}
	if d.SentTTL <= 0 {
		return fmt.Errorf("record idempotency key %q as sent by %q: SentTTL is %v; it must be positive", key, owner, d.SentTTL)
	}
	for range maxAttempts {
		t := d.now()
		now, expires := t.Unix(), ceilUnix(t.Add(d.SentTTL))
		_, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(d.Table),
			Item:      newItem(key, stateSent, owner, expires),
			ConditionExpression: aws.String("attribute_not_exists(#pk) OR #expires <= :now" +
				" OR (#state = :inprogress AND #owner = :owner) OR (#state = :sent AND #expires <= :expires)"),
			ExpressionAttributeNames: attrNames(),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now":        number(now),
				":expires":    number(expires),
				":inprogress": &types.AttributeValueMemberS{Value: stateInProgress},
				":sent":       &types.AttributeValueMemberS{Value: stateSent},
				":owner":      &types.AttributeValueMemberS{Value: owner},
			},
		})
		if err == nil {
			return nil
		}
		if !conditionFailed(err) {
			return fmt.Errorf("record idempotency key %q as sent by %q: %w", key, owner, err)
		}
		it, err := d.get(ctx, key)
		if err != nil {
			return fmt.Errorf("record idempotency key %q as sent by %q: read the item that refused it: %w", key, owner, err)
		}
		switch {
		case it == nil || it.expires <= now:
			// Released or lapsed since the write: write again.
		case it.state == stateSent && it.expires >= expires:
			return nil
		case it.state == stateInProgress && it.owner != owner:
			return fmt.Errorf("record idempotency key %q as sent by %q: %w", key, owner, ErrNotOwner)
		}
	}
	return fmt.Errorf("record idempotency key %q as sent by %q: the item changed under each of %d attempts", key, owner, maxAttempts)
}

// Release drops owner's live claim on key, so that the key can be claimed
// at once. ErrNotOwner, and nothing changes, when owner holds no live claim
// on it: a sent record, another owner's claim and a lapsed claim (which
// anyone may claim already) are left as they are.
func (d *DynamoDB) Release(ctx context.Context, key, owner string) error {
	if err := checkCall(key, owner); err != nil {
		return fmt.Errorf("release idempotency claim on %q for %q: %w", key, owner, err)
	}
	_, err := d.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(d.Table),
		Key:                      keyOf(key),
		ConditionExpression:      aws.String("#owner = :owner AND #state = :inprogress AND #expires > :now"),
		ExpressionAttributeNames: attrNames("#pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now":        number(d.now().Unix()),
			":inprogress": &types.AttributeValueMemberS{Value: stateInProgress},
			":owner":      &types.AttributeValueMemberS{Value: owner},
		},
	})
	if conditionFailed(err) {
		err = ErrNotOwner
	}
	if err != nil {
		return fmt.Errorf("release idempotency claim on %q for %q: %w", key, owner, err)
	}
	return nil
}

// item is what Claim and Done need of a stored item.
type item struct {
	state, owner string
	expires      int64 // epoch seconds
}

// get reads key's item consistently (a claim just written elsewhere must be
// seen); nil when there is none.
func (d *DynamoDB) get(ctx context.Context, key string) (*item, error) {
	out, err := d.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.Table),
		Key:            keyOf(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if out.Item == nil {
		return nil, nil
	}
	var it item
	// An item an earlier sesq wrote has no owner: "" is nobody's.
	it.owner = stringAttr(out.Item[attrOwner])
	it.state = stringAttr(out.Item[attrState])
	n, ok := out.Item[attrExpires].(*types.AttributeValueMemberN)
	if !ok {
		return nil, fmt.Errorf("item %q has no number %q", key, attrExpires)
	}
	if it.expires, err = strconv.ParseInt(n.Value, 10, 64); err != nil {
		return nil, fmt.Errorf("item %q: %q is not whole epoch seconds: %w", key, attrExpires, err)
	}
	if it.state != stateInProgress && it.state != stateSent {
		return nil, fmt.Errorf("item %q has state %q, want %q or %q", key, it.state, stateInProgress, stateSent)
	}
	return &it, nil
}

func stringAttr(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func newItem(key, state, owner string, expires int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrKey:     &types.AttributeValueMemberS{Value: key},
		attrState:   &types.AttributeValueMemberS{Value: state},
		attrOwner:   &types.AttributeValueMemberS{Value: owner},
		attrExpires: number(expires),
	}
}

func keyOf(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: &types.AttributeValueMemberS{Value: key}}
}

// attrNames maps the placeholders the expressions use to the attribute
// names, so that none can clash with a reserved word; DynamoDB refuses a
// placeholder an expression does not use, so the unused are omitted.
func attrNames(omit ...string) map[string]string {
	names := map[string]string{"#pk": attrKey, "#state": attrState, "#owner": attrOwner, "#expires": attrExpires}
	for _, o := range omit {
		delete(names, o)
	}
	return names
}

func number(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// ceilUnix is t in epoch seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
