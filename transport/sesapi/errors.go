package sesapi

import (
	"github.com/aws/aws-sdk-go-v2/service/ses/types"

	"github.com/sesq/sesq/transport"
)

// errorTable maps the SES v1 API's error codes, taken from the SDK's typed
// errors, to classes. Codes every AWS API shares (credentials, throttling,
// parameters) are transport.ClassifyAPI's; others fall back on the HTTP
// status.
var errorTable = map[string]transport.Class{
	(&types.AccountSendingPausedException{}).ErrorCode():          transport.Quota,
	(&types.ConfigurationSetSendingPausedException{}).ErrorCode(): transport.Quota,
	(&types.MessageRejected{}).ErrorCode():                        transport.Rejected,
	(&types.MailFromDomainNotVerifiedException{}).ErrorCode():     transport.Rejected,
	(&types.FromEmailAddressNotVerifiedException{}).ErrorCode():   transport.Rejected,
	(&types.TemplateDoesNotExistException{}).ErrorCode():          transport.Rejected,
	(&types.ConfigurationSetDoesNotExistException{}).ErrorCode():  transport.Rejected,
	(&types.InvalidRenderingParameterException{}).ErrorCode():     transport.Rejected,
	(&types.MissingRenderingAttributeException{}).ErrorCode():     transport.Rejected,
	(&types.ProductionAccessNotGrantedException{}).ErrorCode():    transport.Rejected,
}

// Classify reads the error of an SES v1 call.
func Classify(err error) *transport.Error { return transport.ClassifyAPI(err, errorTable) }
