package objstore

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// openS3 opens s3://bucket/… the way gocloud's s3blob URL opener does (the
// same query parameters, parsed the same way), plus what a URL cannot
// carry: static credentials and an HTTP client. One code path whether or
// not credentials are given, so the tests against SeaweedFS cover it.
func openS3(ctx context.Context, u *url.URL, opts Options) (*blob.Bucket, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("objstore: %s: no bucket (want s3://bucket/prefix)", Redact(u.String()))
	}
	q := u.Query()
	var (
		s3opts []func(*s3.Options)
		bopts  s3blob.Options
	)
	// The parameters s3blob.URLOpener takes before handing the rest to
	// gocloud.dev/aws.V2ConfigFromURLParams (which refuses unknown ones).
	if v := take(q, "ssetype"); v != "" {
		switch t := types.ServerSideEncryption(v); t {
		case types.ServerSideEncryptionAes256, types.ServerSideEncryptionAwsKms, types.ServerSideEncryptionAwsKmsDsse:
			bopts.EncryptionType = t
		default:
			return nil, fmt.Errorf("objstore: %s: ssetype %q: want AES256, aws:kms or aws:kms:dsse", Redact(u.String()), v)
		}
	}
	if v := take(q, "kmskeyid"); v != "" {
		bopts.KMSEncryptionID = v
	}
	for _, p := range []struct {
		name string
		set  func(*s3.Options, bool)
	}{
		{"accelerate", func(o *s3.Options, v bool) { o.UseAccelerate = v }},
		{"disable_https", func(o *s3.Options, v bool) { o.EndpointOptions.DisableHTTPS = v }},
		{"use_path_style", func(o *s3.Options, v bool) { o.UsePathStyle = v }},
		{"s3ForcePathStyle", func(o *s3.Options, v bool) { o.UsePathStyle = v }},
	} {
		v := take(q, p.name)
		if v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("objstore: %s: %s: %w", Redact(u.String()), p.name, err)
		}
		set := p.set
		s3opts = append(s3opts, func(o *s3.Options) { set(o, b) })
	}
	// blob.URLMux's own parameter: a key prefix (the URL's path is another
	// way to say it; both together nest).
	prefix := take(q, "prefix")

	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("objstore: %s: %w", Redact(u.String()), err)
	}
	if opts.AccessKeyID != "" || opts.SecretAccessKey != "" {
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, ""))
	}
	if opts.HTTPClient != nil {
		cfg.HTTPClient = opts.HTTPClient
	}
	// A ranged GET has no whole-object checksum to validate; the SDK says so
	// on stderr at every read unless told not to.
	s3opts = append(s3opts, func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true })
	// As s3blob.URLOpener does: the upload manager does not read this from
	// the client's config.
	bopts.RequestChecksumCalculation = cfg.RequestChecksumCalculation
	b, err := s3blob.OpenBucket(ctx, s3.NewFromConfig(cfg, s3opts...), u.Host, &bopts)
	if err != nil {
		return nil, fmt.Errorf("objstore: %s: %w", Redact(u.String()), err)
	}
	if prefix != "" {
		b = blob.PrefixedBucket(b, prefix)
	}
	return b, nil
}

// take returns the first value of q's parameter name and removes it.
func take(q url.Values, name string) string {
	v := q.Get(name)
	q.Del(name)
	return v
}
