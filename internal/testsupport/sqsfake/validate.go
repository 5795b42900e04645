package sqsfake

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// sendSpec is what SendMessage and a SendMessageBatch entry share.
type sendSpec struct {
	body         *string
	delaySeconds int32
	attrs        map[string]types.MessageAttributeValue
	system       map[string]types.MessageSystemAttributeValue
	groupID      *string
	dedupID      *string
}

// checked is a validated sendSpec, copied so the caller's maps and slices
// can change afterwards without touching the stored message.
type checked struct {
	body   string
	delay  int
	attrs  map[string]types.MessageAttributeValue
	system map[string]string
	size   int
}

// check validates a message as SQS does before storing it.
func (sp sendSpec) check() (checked, error) {
	var c checked
	if sp.body == nil || *sp.body == "" {
		return c, missingParameter("MessageBody")
	}
	if !validContent(*sp.body) {
		return c, &types.InvalidMessageContents{Message: ptr("Invalid binary character in the message body.")}
	}
	if sp.delaySeconds < 0 || sp.delaySeconds > maxDelaySeconds {
		return c, invalidParameter("Value %d for parameter DelaySeconds is invalid. Reason: must be between 0 and %d.", sp.delaySeconds, maxDelaySeconds)
	}
	if sp.dedupID != nil {
		return c, invalidParameter("The request includes a parameter that is not valid for this queue type. Reason: MessageDeduplicationId is supported only for FIFO queues.")
	}
	attrs, size, err := checkAttributes(sp.attrs)
	if err != nil {
		return c, err
	}
	system := map[string]string{}
	for name, v := range sp.system {
		if name != string(types.MessageSystemAttributeNameForSendsAWSTraceHeader) {
			return c, invalidParameter("Message system attribute name %q is invalid.", name)
		}
		if v.DataType == nil || *v.DataType != "String" || v.StringValue == nil || *v.StringValue == "" {
			return c, invalidParameter("Message system attribute %s must be a non-empty String.", name)
		}
		system[name] = *v.StringValue
	}
	if sp.groupID != nil {
		system[string(types.MessageSystemAttributeNameMessageGroupId)] = *sp.groupID
	}
	size += len(*sp.body)
	if size > maxMessageBytes {
		return c, invalidParameter("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", maxMessageBytes+1)
	}
	return checked{body: *sp.body, delay: int(sp.delaySeconds), attrs: attrs, system: system, size: size}, nil
}

// checkAttributes validates message attributes and returns a deep copy and
// their size as SQS counts it against the message size limit (name, data
// type and value).
func checkAttributes(in map[string]types.MessageAttributeValue) (map[string]types.MessageAttributeValue, int, error) {
	if len(in) > maxAttributes {
		return nil, 0, invalidParameter("Number of message attributes [%d] exceeds the allowed maximum [%d].", len(in), maxAttributes)
	}
	out := make(map[string]types.MessageAttributeValue, len(in))
	size := 0
	for name, v := range in {
		if err := checkAttributeName(name); err != nil {
			return nil, 0, err
		}
		if v.DataType == nil {
			return nil, 0, invalidParameter("The message attribute '%s' must contain a non-empty attribute type.", name)
		}
		dt := *v.DataType
		base, _, _ := strings.Cut(dt, ".")
		if len(dt) > 256 || (base != "String" && base != "Number" && base != "Binary") {
			return nil, 0, invalidParameter("The type of message attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
		}
		cp := types.MessageAttributeValue{DataType: ptr(dt)}
		switch base {
		case "Binary":
			if len(v.BinaryValue) == 0 {
				return nil, 0, invalidParameter("The message attribute '%s' with type 'Binary' must use field 'Binary'.", name)
			}
			cp.BinaryValue = slices.Clone(v.BinaryValue)
			size += len(v.BinaryValue)
		default:
			if v.StringValue == nil || *v.StringValue == "" {
				return nil, 0, invalidParameter("The message attribute '%s' with type '%s' must use field 'String'.", name, base)
			}
			if !validContent(*v.StringValue) {
				return nil, 0, invalidParameter("The message attribute '%s' contains an invalid character.", name)
			}
			if base == "Number" && !validNumber(*v.StringValue) {
				return nil, 0, invalidParameter("Can't cast the value of message (user) attribute '%s' to a number.", name)
			}
			cp.StringValue = ptr(*v.StringValue)
			size += len(*v.StringValue)
		}
		size += len(name) + len(dt)
		out[name] = cp
	}
	return out, size, nil
}

func checkAttributeName(name string) error {
	bad := func(reason string) error {
		return invalidParameter("Message attribute name '%s' is invalid: %s", name, reason)
	}
	if name == "" || len(name) > 256 {
		return bad("must be 1 to 256 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return bad("only A-Z, a-z, 0-9, underscore, hyphen and period are allowed")
		}
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") {
		return bad("the prefixes AWS. and Amazon. are reserved")
	}
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return bad("must not start or end with a period or have two in a row")
	}
	return nil
}

// validNumber accepts the decimal numbers SQS accepts as Number attributes,
// rejecting what strconv also parses (hex, Inf, NaN, underscores).
func validNumber(v string) bool {
	for _, r := range v {
		if !strings.ContainsRune("0123456789+-.eE", r) {
			return false
		}
	}
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}

// validContent reports whether s holds only the characters SQS allows in a
// message: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to
// #x10FFFF, in valid UTF-8.
func validContent(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

func checkQueueName(name string) error {
	if name == "" || len(name) > 80 {
		return errors.New("a queue name has 1 to 80 characters")
	}
	if strings.HasSuffix(name, ".fifo") {
		return errors.New("FIFO queues are not supported")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("character %q is not allowed (only alphanumerics, hyphens and underscores)", r)
		}
	}
	return nil
}

// checkBatch applies the checks SQS makes on a whole batch before looking at
// any entry.
func checkBatch(ids []*string) error {
	if len(ids) == 0 {
		return &types.EmptyBatchRequest{Message: ptr("There should be at least one entry in the request.")}
	}
	if len(ids) > maxBatchEntries {
		return &types.TooManyEntriesInBatchRequest{Message: ptr(fmt.Sprintf("Maximum number of entries per request are %d. You have sent %d.", maxBatchEntries, len(ids)))}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !validBatchID(*id) {
			return &types.InvalidBatchEntryId{Message: ptr("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")}
		}
		if seen[*id] {
			return &types.BatchEntryIdsNotDistinct{Message: ptr(fmt.Sprintf("Id %s repeated.", *id))}
		}
		seen[*id] = true
	}
	return nil
}

func validBatchID(id string) bool {
	if id == "" || len(id) > 80 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func md5Hex(s string) *string {
	sum := md5.Sum([]byte(s))
	return ptr(hex.EncodeToString(sum[:]))
}

// attributesMD5 is the digest SQS returns as MD5OfMessageAttributes: over
// the attributes sorted by name, each as length-prefixed name, length-
// prefixed data type, a transport byte (1 string, 2 binary) and the
// length-prefixed value. Nil when there are no attributes.
func attributesMD5(attrs map[string]types.MessageAttributeValue) *string {
	if len(attrs) == 0 {
		return nil
	}
	var b []byte
	put := func(v []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[name]
		put([]byte(name))
		put([]byte(*v.DataType))
		if v.StringValue != nil {
			b = append(b, 1)
			put([]byte(*v.StringValue))
		} else {
			b = append(b, 2)
			put(v.BinaryValue)
		}
	}
	sum := md5.Sum(b)
	return ptr(hex.EncodeToString(sum[:]))
}

// systemAttributesMD5 is attributesMD5 for the system attributes given at
// send (all of type String).
func systemAttributesMD5(in map[string]types.MessageSystemAttributeValue) *string {
	if len(in) == 0 {
		return nil
	}
	attrs := make(map[string]types.MessageAttributeValue, len(in))
	for name, v := range in {
		attrs[name] = types.MessageAttributeValue{DataType: v.DataType, StringValue: v.StringValue}
	}
	return attributesMD5(attrs)
}
