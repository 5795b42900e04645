package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"

	"github.com/sesq/sesq/envelope"
)

// newMessage builds a SendEmail envelope of tenant, for an identity in
// us-east-1 owned by an account of the tenant's own. The subject carries
// the id (and, with seq ≥ 0, the group and the sequence number in it), which
// is how the SES stub tells envelopes apart. MessageGroupId is group (the
// tenant, unless a FIFO run groups otherwise), as envelope.Producer sets it.
func newMessage(id, tenant, group string, seq int, fifo bool) (message, error) {
	h := fnv.New32a()
	h.Write([]byte(tenant))
	identity := fmt.Sprintf("arn:aws:ses:%s:%012d:identity/%s.example.com", region, 200000000000+uint64(h.Sum32()), tenant)
	subject := "sesqbench id=" + id
	if seq >= 0 {
		subject += fmt.Sprintf(" group=%s seq=%d", group, seq)
	}
	e := envelope.Envelope{
		Version: envelope.Version, ID: id, Action: envelope.SendEmail, ForTenant: tenant,
		SourceArn: identity, ReturnPathArn: identity,
		Source: "noreply@" + tenant + ".example.com", ReturnPath: "bounces@" + tenant + ".example.com",
		Destination: &envelope.Destination{To: []string{"user-" + id + "@example.net"}},
		Message: &envelope.Message{
			Subject: &envelope.Content{Data: subject, Charset: "UTF-8"},
			Body:    &envelope.Body{Text: &envelope.Content{Data: "Hello,\n\nthis is benchmark message " + id + ".\n", Charset: "UTF-8"}},
		},
	}
	body, err := json.Marshal(&e)
	if err != nil {
		return message{}, err
	}
	if _, err := envelope.Parse(body); err != nil {
		return message{}, fmt.Errorf("envelope %s: %w", id, err)
	}
	return message{ID: id, Tenant: tenant, Group: group, FIFO: fifo, Body: string(body)}, nil
}
