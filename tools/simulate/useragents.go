package simulate

import (
	"strings"

	sharelog "github.com/sharelog/sharelog"
)

// userAgent is one real-world User-Agent string and what kind of client
// sends it.
type userAgent struct {
	UA   string
	Kind sharelog.ClientKind
	// Mobile is true for phones and tablets, whose owners move between
	// networks (and so, in a session, keep one address but change it more
	// often between sessions).
	Mobile bool
	// Desktop is true for a desktop browser, the usual tool of a workspace
	// member at work.
	Desktop bool
}

// Browser versions as of late 2026: Chrome and Edge ship a major version
// every four weeks, Firefox too (plus the ESR line), Safari with the OS each
// autumn. Chromium browsers send the reduced User-Agent (minor version
// 0.0.0, macOS frozen at 10_15_7, Android at "10; K"); Safari on iOS 26 and
// later freezes the OS version at 18_6. Update with the release trains.
const (
	chromeCur  = "155"
	chromePrev = "154"
	chromeOld  = "152"
	ffCur      = "158"
	ffPrev     = "157"
	ffESR      = "153"
	safariCur  = "27.1"
	safariPrev = "26.6"
)

// userAgents weights the clients that open share links, per 10,000 requests.
// Browsers dominate; download tools and scripts fetch public links directly.
var userAgents = []weighted[userAgent]{
	// Chrome on Windows.
	{ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeCur + ".0.0.0 Safari/537.36"), 1700},
	{ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromePrev + ".0.0.0 Safari/537.36"), 900},
	{ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeOld + ".0.0.0 Safari/537.36"), 250},
	// Edge on Windows.
	{ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeCur + ".0.0.0 Safari/537.36 Edg/" + chromeCur + ".0.0.0"), 700},
	{ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromePrev + ".0.0.0 Safari/537.36 Edg/" + chromePrev + ".0.0.0"), 300},
	// Firefox on Windows.
	{ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:" + ffCur + ".0) Gecko/20100101 Firefox/" + ffCur + ".0"), 280},
	{ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:" + ffPrev + ".0) Gecko/20100101 Firefox/" + ffPrev + ".0"), 100},
	{ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:" + ffESR + ".0) Gecko/20100101 Firefox/" + ffESR + ".0"), 60},
	// macOS.
	{ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeCur + ".0.0.0 Safari/537.36"), 550},
	{ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromePrev + ".0.0.0 Safari/537.36"), 250},
	{ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/" + safariCur + " Safari/605.1.15"), 450},
	{ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/" + safariPrev + " Safari/605.1.15"), 250},
	{ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:" + ffCur + ".0) Gecko/20100101 Firefox/" + ffCur + ".0"), 80},
	{ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeCur + ".0.0.0 Safari/537.36 Edg/" + chromeCur + ".0.0.0"), 60},
	// Linux.
	{ua("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeCur + ".0.0.0 Safari/537.36"), 120},
	{ua("Mozilla/5.0 (X11; Linux x86_64; rv:" + ffCur + ".0) Gecko/20100101 Firefox/" + ffCur + ".0"), 60},
	{ua("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:" + ffPrev + ".0) Gecko/20100101 Firefox/" + ffPrev + ".0"), 40},
	// iPhone and iPad.
	{ua("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/" + safariCur + " Mobile/15E148 Safari/604.1"), 900},
	{ua("Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/" + safariPrev + " Mobile/15E148 Safari/604.1"), 400},
	{ua("Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1"), 120},
	{ua("Mozilla/5.0 (iPad; CPU OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/" + safariCur + " Mobile/15E148 Safari/604.1"), 150},
	// Android.
	{ua("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeCur + ".0.0.0 Mobile Safari/537.36"), 800},
	{ua("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromePrev + ".0.0.0 Mobile Safari/537.36"), 350},
	{ua("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeCur + ".0.0.0 Safari/537.36"), 70}, // tablet
	{ua("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/29.0 Chrome/136.0.0.0 Mobile Safari/537.36"), 150},
	{ua("Mozilla/5.0 (Android 16; Mobile; rv:" + ffCur + ".0) Gecko/" + ffCur + ".0 Firefox/" + ffCur + ".0"), 40},
	// Command-line download tools.
	{ua("curl/8.5.0"), 50},
	{ua("curl/8.7.1"), 40},
	{ua("curl/8.14.1"), 30},
	{ua("Wget/1.21.4"), 25},
	{ua("Wget/1.25.0"), 15},
	{ua("rclone/v1.71.2"), 25},
	{ua("Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.26100; en-US) PowerShell/7.5.4"), 20},
	{ua("Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.26100.7019"), 15},
	// Scripts and SDKs.
	{ua("python-requests/2.32.5"), 35},
	{ua("python-requests/2.32.3"), 15},
	{ua("Go-http-client/2.0"), 15},
	{ua("Go-http-client/1.1"), 10},
	{ua(awsCLI), 10},
}

const awsCLI = "aws-cli/2.31.35 md/awscrt#0.28.4 ua/2.1 os/linux#6.8.0-1041-aws md/arch#x86_64 lang/python#3.13.9 md/pyimpl#CPython m/Z,b cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#s3.cp"

// integrationAgents are what API-key integrations (backup jobs, CI, a CRM
// connector) send; their events carry client.kind api whatever the agent.
var integrationAgents = []weighted[string]{
	{"python-requests/2.32.5", 30},
	{"Go-http-client/2.0", 25},
	{awsCLI, 10},
	{"rclone/v1.71.2", 15},
	{"Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.20348; en-US) PowerShell/7.5.4", 10},
}

// bruteForceAgents are what password-guessing scripts send: HTTP libraries,
// curl, and headless Chrome.
var bruteForceAgents = []weighted[string]{
	{"python-requests/2.32.5", 30},
	{"python-requests/2.31.0", 10},
	{"Go-http-client/1.1", 15},
	{"curl/8.5.0", 15},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/" + chromePrev + ".0.0.0 Safari/537.36", 15},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + chromeOld + ".0.0.0 Safari/537.36", 15},
}

// ua classifies a User-Agent string by what it starts with.
func ua(s string) userAgent {
	u := userAgent{UA: s, Kind: clientKind(s)}
	if u.Kind == sharelog.ClientBrowser {
		u.Mobile = strings.Contains(s, "iPhone") || strings.Contains(s, "iPad") || strings.Contains(s, "Android")
		u.Desktop = !u.Mobile
	}
	return u
}

// clientKind is the client.kind a User-Agent implies: cli for download tools
// and shells, sdk for HTTP libraries and SDKs, browser otherwise.
func clientKind(s string) sharelog.ClientKind {
	switch {
	case strings.HasPrefix(s, "curl/"), strings.HasPrefix(s, "Wget/"), strings.HasPrefix(s, "rclone/"),
		strings.Contains(s, "PowerShell/"):
		return sharelog.ClientCLI
	case strings.HasPrefix(s, "python-requests/"), strings.HasPrefix(s, "Go-http-client/"), strings.HasPrefix(s, "aws-cli/"):
		return sharelog.ClientSDK
	}
	return sharelog.ClientBrowser
}
