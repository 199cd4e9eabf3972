package simulate

// Read-only tables of names the simulated world is made of.

// workspaceTemplate is a company that uses the sharing service.
type workspaceTemplate struct {
	Name, Domain, Country, Lang string
	// Projects and Clients name folders and files.
	Projects []string
}

var workspaceTemplates = []workspaceTemplate{
	{"Helvetia Treuhand AG", "helvetia-treuhand.ch", "CH", "de", []string{"Jahresabschluss 2025", "Revision Müller AG", "Steuern 2026"}},
	{"Nordwind Architekten GmbH", "nordwind-architekten.de", "DE", "de", []string{"Hafencity Block C", "Schule Altona", "Wohnpark Elbufer"}},
	{"Brightline Legal LLP", "brightline-legal.co.uk", "GB", "en", []string{"Harlow v Stanmore", "Project Kestrel", "Acquisition of Finch Ltd"}},
	{"Cedar & Stone Construction", "cedarstone.com", "US", "en", []string{"Riverside Medical Center", "Elm Street Lofts", "Route 9 Bridge"}},
	{"Atelier Lumière", "atelier-lumiere.fr", "FR", "fr", []string{"Campagne Printemps", "Catalogue 2027", "Boutique Marais"}},
	{"Van Dijk Engineering B.V.", "vandijk-engineering.nl", "NL", "nl", []string{"Sluis Terneuzen", "Windpark Noord", "Tunnel A12"}},
	{"Alpenblick Medical", "alpenblick-medical.ch", "CH", "de", []string{"Studie AB-204", "Zulassung Swissmedic", "Klinik Bern"}},
	{"Kessler Maschinenbau GmbH", "kessler-maschinenbau.de", "DE", "de", []string{"Linie 7 Retrofit", "Presse KM-400", "Kunde Bosch"}},
	{"Southern Cross Media", "southerncross.com.au", "AU", "en", []string{"Bondi Campaign", "Documentary Tides", "Client Qantas Pitch"}},
	{"Kaze Design Studio", "kaze-design.jp", "JP", "ja", []string{"Shibuya Store", "Packaging Series 3", "Brand Refresh"}},
	{"Maple Ridge Accounting", "mapleridge-cpa.ca", "CA", "en", []string{"Tax Season 2026", "Audit Northwind", "Payroll"}},
	{"Fjord Film AB", "fjordfilm.se", "SE", "sv", []string{"Vinterljus", "Commercial Volvo", "Festival Cut"}},
	{"Hudson Biotech Inc.", "hudsonbio.com", "US", "en", []string{"Trial HB-17", "FDA Submission", "Series B Data Room"}},
	{"Wiener Immobilien Treuhand", "wit-immobilien.at", "AT", "de", []string{"Objekt Mariahilf", "Verkauf Döbling", "Hausverwaltung"}},
	{"Grupo Solano Abogados", "solano-abogados.es", "ES", "es", []string{"Fusión Iberia", "Litigio Norte", "Due Diligence Levante"}},
	{"Studio Ferraro Design", "studioferraro.it", "IT", "it", []string{"Salone del Mobile", "Villa Como", "Collezione 2027"}},
	{"Lakeside Capital Partners", "lakesidecap.com", "US", "en", []string{"Fund III", "Project Osprey", "LP Reporting Q3"}},
	{"Zürcher Privatbank", "zpb-bank.ch", "CH", "de", []string{"Compliance 2026", "Kundenreporting", "Audit FINMA"}},
	{"Thames Valley Studios", "thamesvalleystudios.co.uk", "GB", "en", []string{"Series 4 Dailies", "Trailer Cut", "Music Licensing"}},
	{"Rhein Logistik AG", "rhein-logistik.de", "DE", "de", []string{"Ausschreibung 2027", "Lager Duisburg", "Zoll"}},
	{"Bruxelles Conseil", "bxl-conseil.be", "BE", "fr", []string{"Mission Commission", "Rapport Annuel", "Appel d'offres"}},
	{"Pixelforge Games", "pixelforge.ca", "CA", "en", []string{"Build 0.9", "Art Bible", "Publisher Pitch"}},
	{"Oslo Arkitektkontor", "osloark.no", "NO", "sv", []string{"Bjørvika", "Skole Nydalen", "Konkurranse"}},
	{"Sakura Pharma KK", "sakura-pharma.jp", "JP", "ja", []string{"Clinical Study SP-3", "PMDA Filing", "Partner Licensing"}},
}

// firstNames and lastNames are ASCII, so that they serve as email local parts
// too.
var firstNames = map[string][]string{
	"de": {"Anna", "Lukas", "Lea", "Jonas", "Sophie", "Felix", "Marie", "Paul", "Laura", "Tobias", "Katrin", "Stefan", "Julia", "Matthias", "Sandra", "Michael"},
	"en": {"Emma", "James", "Olivia", "Oliver", "Amelia", "Jack", "Sophia", "Harry", "Emily", "Noah", "Grace", "William", "Chloe", "Daniel", "Sarah", "Michael"},
	"fr": {"Camille", "Louis", "Chloe", "Hugo", "Manon", "Lucas", "Julie", "Thomas", "Lea", "Nicolas", "Claire", "Antoine", "Sophie", "Julien", "Marine", "Pierre"},
	"nl": {"Daan", "Emma", "Sem", "Julia", "Lucas", "Tess", "Milan", "Sophie", "Bram", "Anouk", "Thijs", "Lotte", "Ruben", "Sanne", "Jeroen", "Femke"},
	"ja": {"Haruto", "Yui", "Sota", "Hina", "Yuto", "Sakura", "Ren", "Aoi", "Takumi", "Mei", "Kenji", "Yuki", "Hiroshi", "Akiko", "Daiki", "Naomi"},
	"sv": {"Elsa", "Lucas", "Alice", "William", "Maja", "Oscar", "Ella", "Hugo", "Wilma", "Erik", "Ingrid", "Lars", "Astrid", "Nils", "Freja", "Magnus"},
	"es": {"Lucia", "Hugo", "Sofia", "Martin", "Maria", "Pablo", "Paula", "Daniel", "Carmen", "Alejandro", "Elena", "Javier", "Laura", "Diego", "Marta", "Sergio"},
	"it": {"Giulia", "Leonardo", "Sofia", "Francesco", "Aurora", "Alessandro", "Chiara", "Lorenzo", "Martina", "Matteo", "Sara", "Andrea", "Elena", "Marco", "Valentina", "Luca"},
}

var lastNames = map[string][]string{
	"de": {"Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Keller", "Brunner", "Huber", "Baumann", "Graf", "Zimmermann", "Wolf"},
	"en": {"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Walker", "Wright", "Thompson", "Evans", "Roberts", "Nguyen", "Miller"},
	"fr": {"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Fournier"},
	"nl": {"deJong", "Jansen", "deVries", "vandenBerg", "vanDijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer", "deBoer", "Mulder", "deGroot", "Bos", "Vos", "Peters"},
	"ja": {"Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato", "Yoshida", "Yamada", "Sasaki", "Yamaguchi", "Matsumoto", "Inoue"},
	"sv": {"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson", "Hansen", "Johansen", "Olsen", "Berg", "Lindberg", "Dahl"},
	"es": {"Garcia", "Rodriguez", "Gonzalez", "Fernandez", "Lopez", "Martinez", "Sanchez", "Perez", "Gomez", "Martin", "Jimenez", "Ruiz", "Hernandez", "Diaz", "Moreno", "Alvarez"},
	"it": {"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti", "DeLuca", "Mancini", "Costa"},
}

// langs lists the keys of firstNames in a fixed order, for drawing a
// visitor's name deterministically.
var langs = []string{"de", "en", "fr", "nl", "ja", "sv", "es", "it"}

// freemailDomains are where visitors who are not at a company come from.
var freemailDomains = []weighted[string]{
	{"gmail.com", 40}, {"outlook.com", 15}, {"hotmail.com", 8}, {"icloud.com", 10},
	{"yahoo.com", 5}, {"gmx.de", 5}, {"web.de", 4}, {"bluewin.ch", 3},
	{"orange.fr", 3}, {"proton.me", 4}, {"btinternet.com", 2}, {"yahoo.co.jp", 2},
}

// partnerDomains are client and partner companies whose people receive links.
var partnerDomains = []string{
	"bosch.com", "siemens.com", "ubs.com", "roche.com", "novartis.com", "pwc.com",
	"kpmg.com", "deloitte.com", "ey.com", "bakermckenzie.com", "allianz.de",
	"axa.fr", "barclays.co.uk", "jll.com", "cbre.com", "arup.com", "skanska.se",
	"accenture.com", "bain.com", "mckinsey.com", "swissre.com", "zurich.com",
	"lonza.com", "abb.com", "sony.co.jp", "telstra.com.au", "rbc.com",
}

// fileKind is a family of files with typical names, folders and sizes.
type fileKind struct {
	// Names are patterns: {P} project, {N} a four-digit number,
	// {n} 1–12, {q} 1–4, {D} a recent date (2006-01-02), {d} one as
	// 20060102, {Y} this year or last.
	Names   []string
	Folders []string
	// Size is log-normal: exp(N(ln Median, Sigma)) bytes, clamped to
	// [Min, Max].
	Median, Sigma float64
	Min, Max      int64
}

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// fileKinds weights what people share: documents most, media by volume.
var fileKinds = []weighted[fileKind]{
	{fileKind{ // contracts
		Names:   []string{"Master Services Agreement - {P} - signed.pdf", "NDA_{P}_{Y}.pdf", "Rahmenvertrag_{P}_v{n}.docx", "Engagement Letter {P}.pdf", "SOW-{N} {P}.pdf", "Term Sheet {P} (final).pdf", "Contrat de prestation {P}.pdf", "Lease Agreement {P}.docx"},
		Folders: []string{"/Legal/Contracts", "/Clients/{P}/Contracts", "/Legal/NDAs/{Y}"},
		Median:  380 * kib, Sigma: 0.8, Min: 40 * kib, Max: 40 * mib,
	}, 18},
	{fileKind{ // invoices and finance
		Names:   []string{"Invoice_INV-{Y}-{N}.pdf", "Rechnung_{N}.pdf", "Facture_F{Y}-{N}.pdf", "Payroll_{D}.xlsx", "Budget {Y}.xlsx", "Q{q} Financial Statements.pdf", "Expense Report {D}.xlsx", "Bank Statement {D}.pdf"},
		Folders: []string{"/Finance/{Y}", "/Finance/Invoices/{Y}", "/Accounting/{P}"},
		Median:  140 * kib, Sigma: 0.7, Min: 15 * kib, Max: 25 * mib,
	}, 16},
	{fileKind{ // office documents
		Names:   []string{"{P} - Board Deck.pptx", "{P} Status Report {D}.docx", "Due Diligence Report {P}.pdf", "Meeting Notes {D}.docx", "{P} Proposal v{n}.pdf", "{P} Timeline.xlsx", "Brand Guidelines v{n}.pdf"},
		Folders: []string{"/Projects/{P}", "/Projects/{P}/Docs", "/Management"},
		Median:  1800 * kib, Sigma: 1.0, Min: 30 * kib, Max: 300 * mib,
	}, 18},
	{fileKind{ // CAD
		Names:   []string{"{P}_Floorplan_Level{n}.dwg", "{P}_Assembly_Rev{n}.step", "{P}_Model.ifc", "{P}_Structure_R{n}.rvt", "Bracket_{N}.sldprt", "{P}_Site_Plan.dxf", "{P}_Housing_v{n}.f3d"},
		Folders: []string{"/Projects/{P}/CAD", "/Engineering/{P}", "/Projects/{P}/Drawings"},
		Median:  28 * mib, Sigma: 1.1, Min: 200 * kib, Max: 4 * gib,
	}, 10},
	{fileKind{ // photos
		Names:   []string{"IMG_{N}.HEIC", "DSC0{N}.JPG", "{P}_site_visit_{D}.jpg", "_MG_{N}.CR3", "PXL_{d}_{N}{N}.jpg", "Portrait_{N}.tif"},
		Folders: []string{"/Photos/{Y}", "/Projects/{P}/Photos", "/Marketing/Shoot {D}"},
		Median:  4 * mib, Sigma: 0.6, Min: 300 * kib, Max: 180 * mib,
	}, 14},
	{fileKind{ // videos
		Names:   []string{"{P}_final_cut_v{n}.mp4", "Interview_{n}_4K.mov", "GX01{N}.MP4", "{P} Teaser.mp4", "Screen Recording {D}.mov", "{P}_ProRes_Master.mov"},
		Folders: []string{"/Video/{P}", "/Projects/{P}/Footage", "/Marketing/Video"},
		Median:  700 * mib, Sigma: 1.1, Min: 8 * mib, Max: 120 * gib,
	}, 8},
	{fileKind{ // archives
		Names:   []string{"{P}_deliverables.zip", "{P}_Photos.zip", "backup-{D}.tar.gz", "{P} - all drawings.zip", "Data Room Export {D}.zip", "{P}_source_v{n}.7z"},
		Folders: []string{"/Projects/{P}", "/Exports", "/Transfers/{Y}"},
		Median:  350 * mib, Sigma: 1.4, Min: 1 * mib, Max: 200 * gib,
	}, 10},
}

// Roles of workspace members.
var roles = []string{"owner", "admin", "member", "member", "member", "member", "member", "guest"}
