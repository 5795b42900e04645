package sesv2

import (
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/sesq/sesq/transport"
)

// errorTable maps the SES v2 API's error codes, taken from the SDK's typed
// errors, to classes. Codes every AWS API shares (AccessDeniedException,
// ThrottlingException, UnrecognizedClientException, ExpiredTokenException,
// …) are transport.ClassifyAPI's, which also reads two causes in the
// message whatever the code: "Daily message quota exceeded" is Quota, "not
// authorized to perform" is Authorization. Others fall back on the HTTP
// status (5xx and 429 retry, other 4xx are rejected).
var errorTable = map[string]transport.Class{
	// A resource the send names does not exist in the region: the template,
	// the configuration set, the tenant, or the identity of the ARN (for a
	// delegate sender, most often an identity that is verified in another
	// region). The same message is refused again; it is not a policy's
	// refusal, and says nothing of the region's health.
	(&types.NotFoundException{}).ErrorCode(): transport.Rejected,
	// The message refused (an unverified address, a refused recipient, a
	// malformed message), as in v1.
	(&types.MessageRejected{}).ErrorCode(): transport.Rejected,
	// The identity's custom MAIL FROM domain is not verified and it falls
	// back on nothing: every send of this identity is refused until its
	// owner fixes it, as in v1.
	(&types.MailFromDomainNotVerifiedException{}).ErrorCode(): transport.Rejected,
	// The input is invalid (an illegal address, content SES cannot take).
	(&types.BadRequestException{}).ErrorCode(): transport.Rejected,
	// Sending is paused for the account or the configuration set (v1's
	// AccountSendingPausedException and ConfigurationSetSendingPaused
	// Exception in one): not the message's fault; deferred until sending
	// resumes.
	(&types.SendingPausedException{}).ErrorCode(): transport.Quota,
	// The sending account's ability to send in the region is restricted.
	// Nothing of the account sends, and the message is not at fault, so it
	// must not be dead-lettered as rejected; nor is it sesq's credentials
	// (Unavailable would pause the region and dead-letter with "the
	// worker's credentials were refused"). Deferred like a paused account,
	// bounded by SESQ_MAX_DEFERRALS, so the queue keeps its messages while
	// AWS reviews the account.
	(&types.AccountSuspendedException{}).ErrorCode(): transport.Quota,
	// An account limit other than the per-second rate: not the message's
	// fault, and sending at a slower pace would not help; deferred. (SES's
	// daily quota, whatever the code, reads as Quota by its message.)
	(&types.LimitExceededException{}).ErrorCode(): transport.Quota,
	// The maximum sending rate (429); the daily quota with the same code is
	// told apart by its message (transport.ClassifyAPI).
	(&types.TooManyRequestsException{}).ErrorCode(): transport.Throttled,
	// SES v2 failed (500): the send may be tried again.
	(&types.InternalServiceErrorException{}).ErrorCode(): transport.Retry,
}

// Classify reads the error of an SES v2 call.
func Classify(err error) *transport.Error { return transport.ClassifyAPI(err, errorTable) }
