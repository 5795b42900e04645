package sesapi

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestClientsOnePerRegion(t *testing.T) {
	c := NewClients(aws.Config{Region: "us-east-1"}, 8)
	east, west := c.For("us-east-1"), c.For("eu-west-1")
	if east != c.For("us-east-1") || east == west {
		t.Error("want one reused client per region")
	}
}
