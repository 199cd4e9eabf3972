package platform

import (
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics and keeps every field short,
// printable ASCII, whatever the user agent holds.
func FuzzParse(f *testing.F) {
	for _, r := range loadLabelled(f) {
		f.Add(r.ua)
	}
	for _, s := range []string{"", "(", "[", ")(", "Mozilla/5.0 (", "a/", "/", "Instagram", "(((((", "Mozilla/5.0 [LinkedInApp]", "\xff\xfe/\x00"} {
		f.Add(s)
	}
	p, err := New(Config{CacheSize: 1000}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		got := p.Parse(ua)
		for name, v := range map[string]string{
			"os_name": got.OSName, "os_version": got.OSVersion, "client_name": got.ClientName,
			"client_version": got.ClientVersion, "device_type": string(got.DeviceType),
		} {
			if len(v) > maxField {
				t.Errorf("Parse(%q): %s is %d bytes", ua, name, len(v))
			}
			if !utf8.ValidString(v) {
				t.Errorf("Parse(%q): %s %q is not UTF-8", ua, name, v)
			}
			for i := 0; i < len(v); i++ {
				if v[i] < ' ' || v[i] > '~' {
					t.Errorf("Parse(%q): %s %q has byte %#x", ua, name, v, v[i])
					break
				}
			}
		}
		switch got.DeviceType {
		case "", "desktop", "mobile", "tablet", "bot", "cli":
		default:
			t.Errorf("Parse(%q): device type %q", ua, got.DeviceType)
		}
		if again := p.Parse(ua); again != got {
			t.Errorf("Parse(%q) not stable: %+v then %+v", ua, got, again)
		}
	})
}
