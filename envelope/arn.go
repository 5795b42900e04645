package envelope

import (
	"errors"
	"strings"
)

// IdentityARN is a parsed SES identity ARN,
// arn:PARTITION:ses:REGION:ACCOUNT:identity/NAME. The region is the one the
// identity owner verified the identity in, and so the only region whose SES
// endpoint can send for it.
type IdentityARN struct {
	Partition string // aws, aws-cn or aws-us-gov
	Region    string // e.g. us-east-1
	Account   string // the identity owner's 12-digit account
	Identity  string // domain or email address
}

// String gives the ARN back in its canonical form.
func (a IdentityARN) String() string {
	return "arn:" + a.Partition + ":ses:" + a.Region + ":" + a.Account + ":identity/" + a.Identity
}

// ParseIdentityARN parses and checks an SES identity ARN. The error says which
// part is wrong, never echoing the input.
func ParseIdentityARN(s string) (IdentityARN, error) {
	var a IdentityARN
	if s == "" {
		return a, errors.New("empty ARN")
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return a, errors.New("not an ARN (want arn:PARTITION:ses:REGION:ACCOUNT:identity/NAME)")
	}
	a.Partition, a.Region, a.Account = parts[1], parts[3], parts[4]
	switch a.Partition {
	case "aws", "aws-cn", "aws-us-gov":
	default:
		return a, errors.New("partition must be aws, aws-cn or aws-us-gov")
	}
	if parts[2] != "ses" {
		return a, errors.New("service must be ses")
	}
	if !validRegion(a.Region) {
		return a, errors.New("region is not a region name like us-east-1")
	}
	if partitionOf(a.Region) != a.Partition {
		return a, errors.New("region is not in the ARN's partition")
	}
	if len(a.Account) != 12 || !allDigits(a.Account) {
		return a, errors.New("account must be 12 digits")
	}
	name, ok := strings.CutPrefix(parts[5], "identity/")
	if !ok {
		return a, errors.New("resource must be identity/NAME")
	}
	if name == "" {
		return a, errors.New("identity name is empty")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == '/' {
			return a, errors.New("identity name must be printable ASCII without spaces or slashes")
		}
	}
	a.Identity = name
	return a, nil
}

// partitionOf names the partition a well-formed region belongs to.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	default:
		return "aws"
	}
}

// validRegion accepts lowercase dash-separated words ending in a number
// (us-east-1, ap-southeast-2, us-gov-west-1, cn-northwest-1), so that a new
// region needs no release of sesq.
func validRegion(r string) bool {
	words := strings.Split(r, "-")
	if len(words) < 3 || len(r) > 32 {
		return false
	}
	for i, w := range words {
		if w == "" {
			return false
		}
		last := i == len(words)-1
		for j := 0; j < len(w); j++ {
			c := w[j]
			if last && (c < '0' || c > '9') || !last && (c < 'a' || c > 'z') {
				return false
			}
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
