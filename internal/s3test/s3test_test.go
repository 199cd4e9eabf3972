package s3test_test

import (
	"context"
	"net"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sharelog/sharelog/internal/s3test"
)

// TestStart: the server answers signed requests with its bucket, refuses a
// wrong secret, and is gone once the test that started it ends.
func TestStart(t *testing.T) {
	ctx := context.Background()
	var host string
	t.Run("running", func(t *testing.T) {
		endpoint, bucket, ak, sk := s3test.Start(t)
		u, err := url.Parse(endpoint)
		if err != nil {
			t.Fatal(err)
		}
		host = u.Host
		out, err := s3test.Client(endpoint, ak, sk).ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != bucket {
			t.Errorf("buckets = %+v; want only %s", out.Buckets, bucket)
		}
		if _, err := s3test.Client(endpoint, ak, "wrong").ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil {
			t.Error("ListBuckets with a wrong secret succeeded")
		}
	})
	if host == "" {
		return // skipped
	}
	if c, err := net.Dial("tcp", host); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the test's cleanup", host)
	}
}
