package platform

import (
	"strings"

	"github.com/sharelog/sharelog"
)

// The matcher below is hand-written: it splits the user agent once into
// products ("Name/1.2") and comments ("(…)", "[…]"), then looks the pieces
// up in small tables, in this order: bots, command-line tools and SDKs,
// browsers (Mozilla-style user agents), other apps. docs/platform-parser.md
// says why it was chosen over uap-go and mssola/useragent, and which names
// it reports.

const (
	// maxParseLen is how much of a user agent is looked at; real ones are
	// shorter than 600 bytes, and the cost of parsing stays bounded.
	maxParseLen = 1024
	// maxField caps the length of every field of the result, in bytes.
	maxField = 64
	// maxTokens bounds the products and comments looked at.
	maxTokens = 32
)

// token is a product ("Chrome/124.0", "Mobile") or, when comment is set, the
// text inside one pair of parentheses or brackets.
type token struct {
	name, ver string
	comment   bool
}

type tokens struct {
	t [maxTokens]token
	n int
}

// tokenize splits ua into products and comments, keeping their order.
func tokenize(ua string, ts *tokens) {
	i := 0
	for i < len(ua) && ts.n < maxTokens {
		c := ua[i]
		switch c {
		case ' ', '\t', ',', ';':
			i++
		case '(', '[':
			closer := byte(')')
			if c == '[' {
				closer = ']'
			}
			depth, j := 1, i+1
			for ; j < len(ua); j++ {
				if ua[j] == c {
					depth++
				} else if ua[j] == closer {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			end := min(j, len(ua))
			ts.t[ts.n] = token{name: ua[i+1 : end], comment: true}
			ts.n++
			i = end + 1
		case ')', ']':
			i++
		default:
			j := i
			for j < len(ua) && ua[j] != ' ' && ua[j] != '(' && ua[j] != '[' && ua[j] != ')' && ua[j] != ']' {
				j++
			}
			tok := ua[i:j]
			name, ver := tok, ""
			if k := strings.IndexByte(tok, '/'); k >= 0 {
				name, ver = tok[:k], tok[k+1:]
			}
			ts.t[ts.n] = token{name: name, ver: ver}
			ts.n++
			i = j
		}
	}
}

// productVersion is the version of the product at index i: its own, or, for
// "Instagram 327.0.2" and "Slackbot 1.0", the number that follows it.
func (ts *tokens) productVersion(i int) string {
	tk := ts.t[i]
	if tk.ver != "" {
		return tk.ver
	}
	if i+1 < ts.n {
		next := ts.t[i+1]
		if !next.comment && next.ver == "" && next.name != "" && isDigit(next.name[0]) {
			return next.name
		}
	}
	return ""
}

// parse parses ua without any caching. It never panics, and every field of
// the result is at most maxField bytes of printable ASCII.
func parse(ua string) sharelog.Platform {
	if len(ua) > maxParseLen {
		ua = ua[:maxParseLen]
	}
	var ts tokens
	tokenize(ua, &ts)
	if ts.n == 0 {
		return sharelog.Platform{}
	}
	if p, ok := parseBot(ua, &ts); ok {
		return finish(p)
	}
	if p, ok := parseTool(ua, &ts); ok {
		return finish(p)
	}
	first := ts.t[0]
	if !first.comment && (first.name == "Mozilla" || first.name == "Opera") {
		return finish(parseBrowser(&ts))
	}
	return finish(parseApp(ua, &ts))
}

// finish caps and cleans every field.
func finish(p sharelog.Platform) sharelog.Platform {
	p.OSName = clean(p.OSName, isNameByte)
	p.OSVersion = cleanVersion(p.OSVersion)
	p.ClientName = clean(p.ClientName, isNameByte)
	p.ClientVersion = cleanVersion(p.ClientVersion)
	return p
}

// lower writes the ASCII lower case of s (at most len(buf) bytes) into buf.
func lower(buf *[maxField]byte, s string) []byte {
	n := min(len(s), len(buf))
	for i := 0; i < n; i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:n]
}

// knownBots are bots whose name does not say "bot", "crawler" or "spider",
// and the names some bots are reported under (keys are lower case).
var knownBots = map[string]string{
	"facebookexternalhit":    "facebookexternalhit",
	"facebookcatalog":        "facebookcatalog",
	"whatsapp":               "WhatsApp",
	"iframely":               "Iframely",
	"embedly":                "Embedly",
	"mastodon":               "Mastodon",
	"headlesschrome":         "HeadlessChrome",
	"slack-imgproxy":         "Slack-ImgProxy",
	"slackbot-linkexpanding": "Slackbot",
	"mediapartners-google":   "Mediapartners-Google",
	"skypeuripreview":        "SkypeUriPreview",
	"google-inspectiontool":  "Google-InspectionTool",
	"googleother":            "GoogleOther",
	"google-read-aloud":      "Google-Read-Aloud",
	"feedfetcher-google":     "Feedfetcher-Google",
	"yahoo! slurp":           "Yahoo! Slurp",
	"pingdom.com_bot_version_1.4_(http://www.pingdom.com/)": "Pingdom",
	"ia_archiver":              "ia_archiver",
	"lighthouse":               "Lighthouse",
	"chrome-lighthouse":        "Lighthouse",
	"bitlybot":                 "bitlybot",
	"qwantify":                 "Qwantify",
	"bluesky cardyb":           "Bluesky",
	"cardyb":                   "Bluesky",
	"vkshare":                  "vkShare",
	"w3c_validator":            "W3C_Validator",
	"microsoft preview":        "Microsoft Preview",
	"google-pagerenderer":      "Google-PageRenderer",
	"outbrain":                 "Outbrain",
	"nuzzel":                   "Nuzzel",
	"flipboardproxy":           "FlipboardProxy",
	"zoominfobot":              "ZoominfoBot",
	"datadog agent":            "Datadog Agent",
	"site24x7":                 "Site24x7",
	"statuscake":               "StatusCake",
	"newrelicpinger":           "NewRelicPinger",
	"google-safety":            "Google-Safety",
	"storebot-google":          "Storebot-Google",
	"apis-google":              "APIs-Google",
	"google favicon":           "Google Favicon",
	"google web preview":       "Google Web Preview",
	"snap url preview service": "Snap URL Preview Service",
}

// isBotName reports whether a lower-case product name names a bot.
func isBotName(l []byte) bool {
	s := string(l) // no allocation: only compared
	return strings.HasSuffix(s, "bot") || strings.Contains(s, "bot-") ||
		strings.Contains(s, "crawler") || strings.Contains(s, "spider") ||
		strings.Contains(s, "slurp")
}

// botName returns the canonical bot name for a product name, if it is one.
func botName(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	var buf [maxField]byte
	l := lower(&buf, name)
	if n, ok := knownBots[string(l)]; ok {
		return n, true
	}
	if isBotName(l) {
		return name, true
	}
	return "", false
}

// parseBot finds a bot among the products and, in comments that identify
// software ("compatible", a URL or an e-mail address), among the comment
// items. Device model names in ordinary comments ("CUBOT X30") are not
// looked at.
func parseBot(ua string, ts *tokens) (sharelog.Platform, bool) {
	for i := 0; i < ts.n; i++ {
		tk := ts.t[i]
		if tk.comment || isCommonProduct(tk.name) {
			continue
		}
		if n, ok := botName(tk.name); ok {
			return sharelog.Platform{ClientName: n, ClientVersion: ts.productVersion(i), DeviceType: sharelog.DeviceBot}, true
		}
	}
	for i := 0; i < ts.n; i++ {
		tk := ts.t[i]
		if !tk.comment || !identifiesSoftware(tk.name) {
			continue
		}
		compatible := strings.Contains(tk.name, "compatible")
		rest := tk.name
		var fallback, fallbackVer string
		for rest != "" {
			var item string
			item, rest = nextItem(rest)
			if item == "" || item[0] == '+' || strings.Contains(item, "://") || strings.IndexByte(item, '@') >= 0 ||
				item == "compatible" || strings.HasPrefix(item, "MSIE ") || strings.HasPrefix(item, "Windows") ||
				strings.HasPrefix(item, "KHTML") || strings.HasPrefix(item, "like ") {
				continue
			}
			name, ver := item, ""
			if k := strings.IndexByte(item, '/'); k >= 0 {
				name, ver = item[:k], item[k+1:]
			}
			if n, ok := botName(name); ok {
				return sharelog.Platform{ClientName: n, ClientVersion: ver, DeviceType: sharelog.DeviceBot}, true
			}
			if fallback == "" && compatible && !strings.Contains(tk.name, "MSIE") && !strings.HasPrefix(name, "Trident") {
				fallback, fallbackVer = name, ver
			}
		}
		if fallback != "" {
			// "Mozilla/5.0 (compatible; Name/1.0; +https://…)": the
			// convention robots follow to identify themselves (Internet
			// Explorer's "compatible; MSIE" aside).
			return sharelog.Platform{ClientName: fallback, ClientVersion: fallbackVer, DeviceType: sharelog.DeviceBot}, true
		}
	}
	return sharelog.Platform{}, false
}

// isCommonProduct reports whether name is a product that browsers send and
// that names no bot or tool, so the table look-ups can skip it.
func isCommonProduct(name string) bool {
	switch name {
	case "Mozilla", "AppleWebKit", "Safari", "Chrome", "Mobile", "Version", "Gecko", "like", "Firefox",
		"Edg", "OPR", "CriOS", "FxiOS", "SamsungBrowser":
		return true
	}
	return len(name) > 0 && isDigit(name[0])
}

func identifiesSoftware(comment string) bool {
	return strings.Contains(comment, "compatible") || strings.Contains(comment, "http") || strings.IndexByte(comment, '@') >= 0
}

// nextItem splits a comment at the next ';' and trims the item.
func nextItem(s string) (item, rest string) {
	if k := strings.IndexByte(s, ';'); k >= 0 {
		item, rest = s[:k], s[k+1:]
	} else {
		item = s
	}
	return strings.TrimSpace(item), rest
}

type tool struct {
	name string
	weak bool   // a runtime that a more specific product may follow ("Python/3.11 aiohttp/3.9")
	os   string // the only OS the tool runs on, when its user agent does not say
}

// tools are command-line tools, SDKs and HTTP libraries (keys are lower
// case). They are reported with DeviceType cli.
var tools = map[string]tool{
	"curl":                       {name: "curl"},
	"wget":                       {name: "Wget"},
	"wget2":                      {name: "Wget2"},
	"rclone":                     {name: "rclone"},
	"restic":                     {name: "restic"},
	"python-requests":            {name: "python-requests"},
	"python-urllib":              {name: "Python-urllib"},
	"python-urllib3":             {name: "urllib3"},
	"python-httpx":               {name: "python-httpx"},
	"aiohttp":                    {name: "aiohttp"},
	"httpx":                      {name: "python-httpx"},
	"python":                     {name: "Python", weak: true},
	"go-http-client":             {name: "Go-http-client"},
	"aws-cli":                    {name: "aws-cli"},
	"boto3":                      {name: "Boto3"},
	"botocore":                   {name: "Botocore"},
	"s3cmd":                      {name: "s3cmd"},
	"powershell":                 {name: "PowerShell"},
	"windowspowershell":          {name: "PowerShell"},
	"okhttp":                     {name: "okhttp"},
	"apache-httpclient":          {name: "Apache-HttpClient"},
	"java":                       {name: "Java"},
	"java-http-client":           {name: "Java-http-client"},
	"jakarta commons-httpclient": {name: "Jakarta Commons-HttpClient"},
	"node-fetch":                 {name: "node-fetch"},
	"axios":                      {name: "axios"},
	"undici":                     {name: "undici"},
	"node":                       {name: "Node.js"},
	"got":                        {name: "got"},
	"deno":                       {name: "Deno"},
	"bun":                        {name: "Bun"},
	"libwww-perl":                {name: "libwww-perl"},
	"lwp-request":                {name: "libwww-perl"},
	"httpie":                     {name: "HTTPie"},
	"cyberduck":                  {name: "Cyberduck"},
	"mountain duck":              {name: "Mountain Duck"},
	"winscp":                     {name: "WinSCP"},
	"postmanruntime":             {name: "Postman"},
	"insomnia":                   {name: "Insomnia"},
	"dart":                       {name: "Dart"},
	"git":                        {name: "git"},
	"microsoft-webdav-miniredir": {name: "Microsoft-WebDAV-MiniRedir", os: "Windows"},
	"davfs2":                     {name: "davfs2"},
	"gvfs":                       {name: "gvfs"},
	"transmit":                   {name: "Transmit"},
	"aria2":                      {name: "aria2"},
	"ruby":                       {name: "Ruby"},
	"faraday":                    {name: "Faraday"},
	"guzzlehttp":                 {name: "Guzzle"},
	"guzzle":                     {name: "Guzzle"},
	"azcopy":                     {name: "AzCopy"},
	"gsutil":                     {name: "gsutil"},
	"gcloud-golang":              {name: "gcloud-golang"},
	"reqwest":                    {name: "reqwest"},
	"rest-client":                {name: "rest-client"},
	"php":                        {name: "PHP", weak: true},
	"mc":                         {name: "mc"},
	"minio":                      {name: "MinIO"},
	"nextcloud-android":          {name: "Nextcloud"},
	"mirall":                     {name: "Nextcloud"},
	"rsync":                      {name: "rsync"},
	"httrack":                    {name: "HTTrack"},
	"winhttp":                    {name: "WinHTTP", os: "Windows"},
	"microsoft bits":             {name: "BITS", os: "Windows"},
}

// parseTool finds a command-line tool or SDK among the products: the first
// one in the table, unless it is weak and a later one is not.
func parseTool(ua string, ts *tokens) (sharelog.Platform, bool) {
	var buf [maxField]byte
	found, at := tool{}, -1
	name, ver := "", ""
	// Names with a space ("Mountain Duck/4.15") span two products.
	if k := strings.IndexAny(ua, "/(;"); k > 0 && ua[k] == '/' && strings.IndexByte(ua[:k], ' ') > 0 && k <= maxField {
		if t, ok := tools[string(lower(&buf, ua[:k]))]; ok {
			found, at, name = t, 0, ua[:k]
			if ts.n > 1 {
				ver = ts.t[1].ver
			}
		}
	}
	for i := 0; i < ts.n && (at < 0 || found.weak); i++ {
		tk := ts.t[i]
		if tk.comment || tk.name == "" || isCommonProduct(tk.name) {
			continue
		}
		l := lower(&buf, tk.name)
		t, ok := tools[string(l)]
		if !ok && len(l) > 8 && string(l[:8]) == "aws-sdk-" {
			t, ok = tool{name: tk.name}, true
		}
		if !ok || (at >= 0 && t.weak) {
			continue
		}
		found, at, name, ver = t, i, t.name, ts.productVersion(i)
	}
	if at < 0 {
		return sharelog.Platform{}, false
	}
	if found.name != "" {
		name = found.name
	}
	p := sharelog.Platform{ClientName: name, ClientVersion: ver, DeviceType: sharelog.DeviceCLI}
	p.OSName, p.OSVersion = osFromComments(ts)
	if p.OSName == "" {
		p.OSName = found.os
	}
	if p.OSName == "" {
		p.OSName = osFromWords(ua)
	}
	return p, true
}

// osFromWords guesses the OS from words tools put in their user agent
// ("Linux/6.5.0", "os/linux#6.5", "(go1.22; linux; amd64)", "Darwin/23.1").
func osFromWords(ua string) string {
	switch {
	case strings.Contains(ua, "Windows") || strings.Contains(ua, "windows"):
		return "Windows"
	case strings.Contains(ua, "Android") || strings.Contains(ua, "android"):
		return "Android"
	case strings.Contains(ua, "Darwin") || strings.Contains(ua, "darwin") || strings.Contains(ua, "macos") || strings.Contains(ua, "macOS"):
		return "macOS"
	case strings.Contains(ua, "Linux") || strings.Contains(ua, "linux"):
		return "Linux"
	}
	return ""
}

// OS ranks: a later comment item only replaces a weaker guess.
const (
	rankNone = iota
	rankWeak
	rankStrong
)

// osFromComments reads the OS from the comment items: "Windows NT 10.0",
// "Macintosh; Intel Mac OS X 10_15_7", "iPhone; CPU iPhone OS 17_4 like Mac
// OS X", "iPad; CPU OS 17_4 …", "Linux; Android 14", "X11; CrOS x86_64
// 14541.0.0", "X11; Linux x86_64", "Mac OS X/14.4.1", "iPhone; iOS 17.4.1".
// Only the first comment holding an OS is used.
func osFromComments(ts *tokens) (name, version string) {
	for i := 0; i < ts.n; i++ {
		if !ts.t[i].comment {
			continue
		}
		name, version = osFromComment(ts.t[i].name)
		if name != "" {
			return name, version
		}
	}
	return "", ""
}

func osFromComment(c string) (name, version string) {
	rank := rankNone
	set := func(n, v string, r int) {
		if r > rank || (r == rank && version == "" && n == name) {
			name, version, rank = n, v, r
		}
	}
	rest := c
	for rest != "" {
		var item string
		item, rest = nextItem(rest)
		switch {
		case item == "":
		case strings.HasPrefix(item, "Windows NT"):
			set("Windows", windowsVersion(strings.TrimSpace(item[len("Windows NT"):])), rankStrong)
		case strings.HasPrefix(item, "Windows"):
			set("Windows", "", rankStrong)
		case item == "iPhone" || strings.HasPrefix(item, "iPod"):
			set("iOS", version, rankStrong)
		case item == "iPad":
			set("iPadOS", version, rankStrong)
		case strings.HasPrefix(item, "CPU iPhone OS "), strings.HasPrefix(item, "CPU OS "):
			v := item[strings.Index(item, "OS ")+3:]
			if k := strings.IndexByte(v, ' '); k >= 0 {
				v = v[:k]
			}
			if name == "" {
				name, rank = "iOS", rankStrong
				if strings.HasPrefix(item, "CPU OS ") {
					name = "iPadOS"
				}
			}
			if name == "iOS" || name == "iPadOS" {
				version = underscoreToDot(v)
			}
		case strings.HasPrefix(item, "iOS "):
			if name == "" || name == "iOS" {
				name, version, rank = "iOS", underscoreToDot(item[4:]), rankStrong
			}
		case strings.HasPrefix(item, "Android"):
			v := strings.TrimSpace(item[len("Android"):])
			if v != "" && !isDigit(v[0]) {
				v = ""
			}
			set("Android", v, rankStrong+1)
		case strings.HasPrefix(item, "CrOS "):
			v := item
			if k := strings.LastIndexByte(v, ' '); k >= 0 {
				v = v[k+1:]
			}
			set("ChromeOS", v, rankStrong)
		case item == "Macintosh":
			set("macOS", "", rankWeak)
		case strings.Contains(item, "Mac OS X"):
			if name == "iOS" || name == "iPadOS" {
				break
			}
			v := item[strings.Index(item, "Mac OS X")+len("Mac OS X"):]
			if v != "" && (v[0] == ' ' || v[0] == '/') {
				v = v[1:]
			}
			set("macOS", underscoreToDot(v), rankStrong)
		case strings.HasPrefix(item, "Darwin") || strings.HasPrefix(item, "darwin"):
			set("macOS", "", rankWeak)
		case strings.HasPrefix(item, "FreeBSD"):
			set("FreeBSD", "", rankWeak+1)
		case strings.HasPrefix(item, "OpenBSD"):
			set("OpenBSD", "", rankWeak+1)
		case strings.HasPrefix(item, "NetBSD"):
			set("NetBSD", "", rankWeak+1)
		case strings.Contains(item, "Linux") || strings.Contains(item, "linux"):
			set("Linux", "", rankWeak)
		}
	}
	return name, version
}

// windowsVersion maps the Windows NT kernel version to the product version.
// Windows 11 also sends "Windows NT 10.0", so it is reported as "10".
func windowsVersion(nt string) string {
	switch nt {
	case "10.0":
		return "10"
	case "6.3":
		return "8.1"
	case "6.2":
		return "8"
	case "6.1":
		return "7"
	case "6.0":
		return "Vista"
	case "5.1", "5.2":
		return "XP"
	case "5.0":
		return "2000"
	}
	return nt
}

type browser struct {
	name string
	rank int
}

// browsers maps product names to the browser or app they reveal. A Chromium
// browser also says "Chrome/…" and "Safari/…", so the most specific product
// (the highest rank) wins.
var browsers = map[string]browser{
	"Edg":             {"Edge", 90},
	"EdgA":            {"Edge", 90},
	"EdgiOS":          {"Edge", 90},
	"Edge":            {"Edge", 90},
	"OPR":             {"Opera", 90},
	"OPT":             {"Opera", 90},
	"OPiOS":           {"Opera", 90},
	"OPX":             {"Opera", 90},
	"SamsungBrowser":  {"Samsung Internet", 90},
	"YaBrowser":       {"Yandex Browser", 90},
	"YaSearchBrowser": {"Yandex Browser", 90},
	"Vivaldi":         {"Vivaldi", 90},
	"UCBrowser":       {"UC Browser", 90},
	"HuaweiBrowser":   {"Huawei Browser", 90},
	"Silk":            {"Silk", 90},
	"DuckDuckGo":      {"DuckDuckGo", 90},
	"Ddg":             {"DuckDuckGo", 90},
	"GSA":             {"Google App", 90},
	"Thunderbird":     {"Thunderbird", 90},
	"Brave":           {"Brave", 90},
	"Whale":           {"Whale", 90},
	"QQBrowser":       {"QQ Browser", 90},
	"Focus":           {"Firefox Focus", 90},
	"Instagram":       {"Instagram", 95},
	"MicroMessenger":  {"WeChat", 95},
	"Line":            {"LINE", 95},
	"Snapchat":        {"Snapchat", 95},
	"Slack":           {"Slack", 95},
	"Teams":           {"Microsoft Teams", 95},
	"Discord":         {"Discord", 95},
	"FxiOS":           {"Firefox", 80},
	"CriOS":           {"Chrome", 80},
	"Chromium":        {"Chromium", 75},
	"Firefox":         {"Firefox", 70},
	"Chrome":          {"Chrome", 60},
	"Electron":        {"Electron", 50},
}

// parseBrowser handles "Mozilla/…" and "Opera/…" user agents.
func parseBrowser(ts *tokens) sharelog.Platform {
	var p sharelog.Platform
	best, bestVer := browser{}, ""
	var hasVersion, hasSafari, hasMobile, webView, tablet, operaMini bool
	var version string
	for i := 0; i < ts.n; i++ {
		tk := ts.t[i]
		if tk.comment {
			// The platform comment comes first; in-app browsers add theirs.
			if p.OSName == "" {
				p.OSName, p.OSVersion = osFromComment(tk.name)
			}
			rest := tk.name
			for rest != "" {
				var item string
				item, rest = nextItem(rest)
				switch {
				case item == "Mobile":
					hasMobile = true
				case item == "Tablet":
					tablet = true
				case item == "wv":
					webView = true
				case strings.HasPrefix(item, "FBAV/"):
					if best.rank < 95 {
						best, bestVer = browser{"Facebook", 95}, item[5:]
					}
				case strings.HasPrefix(item, "Opera Mini/"):
					operaMini = true
					v := item[len("Opera Mini/"):]
					if k := strings.IndexByte(v, '/'); k >= 0 {
						v = v[:k]
					}
					best, bestVer = browser{"Opera Mini", 99}, v
				case strings.HasPrefix(item, "MSIE "):
					if best.rank < 85 {
						best, bestVer = browser{"Internet Explorer", 85}, item[5:]
					}
				case strings.HasPrefix(item, "rv:") && best.rank < 85 && strings.Contains(tk.name, "Trident/"):
					best, bestVer = browser{"Internet Explorer", 85}, item[3:]
				case item == "LinkedInApp":
					if i+1 < ts.n && !ts.t[i+1].comment && ts.t[i+1].name == "" {
						best, bestVer = browser{"LinkedIn", 95}, ts.t[i+1].ver
					}
				}
			}
			continue
		}
		switch tk.name {
		case "Mobile":
			hasMobile = true
			continue
		case "Version":
			hasVersion, version = true, tk.ver
			continue
		case "Safari":
			hasSafari = true
			continue
		case "XiaoMi":
			if v, ok := strings.CutPrefix(tk.ver, "MiuiBrowser/"); ok && best.rank < 90 {
				best, bestVer = browser{"MIUI Browser", 90}, v
			}
			continue
		}
		if b, ok := browsers[tk.name]; ok && b.rank > best.rank {
			best, bestVer = b, ts.productVersion(i)
		}
	}
	switch {
	case best.name == "Chrome" && webView:
		best.name = "Chrome WebView"
	case best.name == "" && ts.t[0].name == "Opera":
		best.name, bestVer = "Opera", version
		if !hasVersion {
			bestVer = ts.t[0].ver
		}
	case best.name == "" && hasSafari:
		best.name, bestVer = "Safari", version
		if p.OSName == "Android" {
			best.name = "Android Browser"
		}
	}
	p.ClientName, p.ClientVersion = best.name, bestVer
	p.DeviceType = deviceFor(p.OSName, hasMobile || operaMini, tablet)
	if p.OSName == "Android" && !hasMobile && !tablet && !operaMini {
		// Android browsers leave out "Mobile" on tablets.
		p.DeviceType = sharelog.DeviceTablet
	}
	return p
}

// deviceFor is the device type an OS implies.
func deviceFor(os string, mobile, tablet bool) sharelog.DeviceType {
	switch os {
	case "":
		return ""
	case "iOS":
		return sharelog.DeviceMobile
	case "iPadOS":
		return sharelog.DeviceTablet
	case "Android":
		if tablet {
			return sharelog.DeviceTablet
		}
		return sharelog.DeviceMobile
	}
	if mobile {
		return sharelog.DeviceMobile
	}
	return sharelog.DeviceDesktop
}

// parseApp handles the rest: apps with their own user agent ("Dalvik/2.1.0
// (Linux; U; Android 14; …)", "ShareApp/3.4 (iPhone; iOS 17.4; …)",
// "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0; …)").
// The client is the first product. An app that names an OS gets that OS's
// device type; one that does not is a program talking to the API, "cli";
// one that gives a URL to read about it is a robot.
func parseApp(ua string, ts *tokens) sharelog.Platform {
	var p sharelog.Platform
	first := ts.t[0]
	if !first.comment {
		p.ClientName, p.ClientVersion = first.name, ts.productVersion(0)
		if k := strings.IndexAny(ua, "/("); k > 0 && ua[k] == '/' && strings.IndexByte(ua[:k], ' ') > 0 && k <= maxField {
			p.ClientName = ua[:k]
			if ts.n > 1 {
				p.ClientVersion = ts.t[1].ver
			}
		}
	}
	p.OSName, p.OSVersion = osFromComments(ts)
	if p.ClientName == "Microsoft Office" {
		for i := 0; i < ts.n; i++ {
			if ts.t[i].comment {
				if k := strings.Index(ts.t[i].name, "Microsoft Outlook "); k >= 0 {
					v, _ := nextItem(ts.t[i].name[k+len("Microsoft Outlook "):])
					p.ClientName, p.ClientVersion = "Outlook", v
				}
			}
		}
	}
	tablet := false
	for i := 0; i < ts.n; i++ {
		if ts.t[i].comment && strings.Contains(ts.t[i].name, "Tablet") {
			tablet = true
		}
	}
	p.DeviceType = deviceFor(p.OSName, false, tablet)
	if p.DeviceType == "" && p.ClientName != "" {
		p.DeviceType = sharelog.DeviceCLI
		if strings.Contains(ua, "http://") || strings.Contains(ua, "https://") {
			p.DeviceType = sharelog.DeviceBot
		}
	}
	return p
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) ||
		c == ' ' || c == '.' || c == '_' || c == '-' || c == '!' || c == '+'
}

func isVersionByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) ||
		c == '.' || c == '_' || c == '-' || c == '+' || c == '~'
}

// clean returns the longest prefix of s, at most maxField bytes, made of
// bytes ok accepts, without trailing spaces.
func clean(s string, ok func(byte) bool) string {
	n := 0
	for n < len(s) && n < maxField && ok(s[n]) {
		n++
	}
	return strings.TrimRight(s[:n], " ")
}

// cleanVersion is clean for versions, without a leading "v" ("v1.66.0").
func cleanVersion(v string) string {
	if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && isDigit(v[1]) {
		v = v[1:]
	}
	return clean(v, isVersionByte)
}

// underscoreToDot turns "17_4_1" into "17.4.1".
func underscoreToDot(v string) string {
	if strings.IndexByte(v, '_') < 0 {
		return v
	}
	return strings.ReplaceAll(v, "_", ".")
}
