package envelope

// MessageSize is the size in bytes of the mail the envelope asks for, as
// SES limits it: the whole MIME message for SendRawEmail; for SendEmail and
// SendTemplatedEmail the content the envelope carries (subject, bodies,
// template data), which SES's message grows from by its headers and
// encoding only.
func (e *Envelope) MessageSize() int {
	if e.Action == SendRawEmail {
		return len(e.Raw)
	}
	n := len(e.TemplateData)
	if m := e.Message; m != nil {
		for _, c := range []*Content{m.Subject, bodyPart(m.Body, false), bodyPart(m.Body, true)} {
			if c != nil {
				n += len(c.Data)
			}
		}
	}
	return n
}

func bodyPart(b *Body, html bool) *Content {
	switch {
	case b == nil:
		return nil
	case html:
		return b.HTML
	}
	return b.Text
}
