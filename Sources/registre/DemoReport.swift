import Foundation
import Simulator

/// Everything the demo shows, gathered from the projections, the live storm and the audit, then
/// rendered twice: as text for the terminal and as a standalone HTML page with inline SVG.
struct DemoReport {
    typealias MonthCount = DemoFigures.MonthCount
    typealias DelayRow = DemoFigures.DelayRow
    struct Release { var id: String; var slots: Int; var secondsToExhaustion: Double?; var fingerprints: Int }
    struct Suspect { var fingerprint: String; var score: Double; var flags: [Flag] }
    struct Flag { var rule: String; var detail: String; var evidence: [String] }
    typealias StormSecond = StormTally.Second

    var directory: String
    var eventCount: UInt64
    /// `YYYY-MM to YYYY-MM`.
    var simulatedMonths = ""
    var appointmentsPerMonth: [MonthCount] = []
    /// Which dossiers `delays` and `delaysPerMonth` describe.
    var delayCohort = ""
    var delays: [DelayRow] = []
    var delaysPerMonth: [(category: String, months: [(month: String, medianDays: Double)])] = []
    var releases: [Release] = []
    var storm: [StormSecond] = []
    var stormSummary: String = ""
    var suspects: [Suspect] = []
    var auditVerdict: String = ""
    var auditClean = false
    var steps: [String] = []

    // MARK: Text

    /// Seconds for a bot storm, days for a release that lasted: the unit a reader thinks in.
    static func readableDuration(_ seconds: Double) -> String {
        switch seconds {
        case ..<120: String(format: "%.1f s", seconds)
        case ..<7_200: String(format: "%.0f min", seconds / 60)
        case ..<172_800: String(format: "%.1f h", seconds / 3_600)
        default: String(format: "%.1f days", seconds / 86_400)
        }
    }

    func text() -> String {
        var out = ""
        out += section("Appointments per month, simulated \(simulatedMonths) (the live storm is below)")
        let peak = max(1, appointmentsPerMonth.map(\.count).max() ?? 1)
        for m in appointmentsPerMonth {
            out += "  \(m.month)  \(pad(String(m.count), 6, right: true))  \(String(repeating: "█", count: m.count * 40 / peak))\n"
        }
        out += section("Delay from complete file to permit available, per category (days)")
        out += "  \(delayCohort)\n"
        out += "  \(pad("category", 14)) \(pad("dossiers", 9, right: true)) \(pad("median", 8, right: true)) \(pad("p90", 8, right: true)) \(pad("open", 6, right: true))   press release (Isère, 2024)\n"
        for d in delays {
            out += "  \(pad(d.category, 14)) \(pad(String(d.count), 9, right: true)) \(pad(String(format: "%.0f", d.medianDays), 8, right: true)) \(pad(String(format: "%.0f", d.p90Days), 8, right: true)) \(pad(String(d.stillOpen), 6, right: true))   \(d.pressRelease)\n"
        }
        out += "  (open: dossiers of the cohort still waiting for their permit when the history ends)\n"
        out += section("Slot releases: time until the last slot was taken, fastest first")
        for r in releases.prefix(12) {
            let exhausted = pad(r.secondsToExhaustion.map(Self.readableDuration) ?? "not exhausted", 14, right: true)
            out += "  \(pad(r.id, 28)) \(pad(String(r.slots), 5, right: true)) slots  \(exhausted)  \(r.fingerprints) client fingerprints\n"
        }
        if releases.count > 12 { out += "  … \(releases.count - 12) more releases in the report\n" }
        out += section("Live bot storm through the socket")
        out += "  \(stormSummary)\n"
        out += section("Most suspicious client fingerprints")
        for s in suspects.prefix(5) {
            out += "  \(s.fingerprint.prefix(16))…  score \(String(format: "%.1f", s.score))\n"
            for f in s.flags {
                out += "      \(f.rule): \(f.detail)"
                if !f.evidence.isEmpty { out += " (evidence: \(f.evidence.prefix(2).joined(separator: ", "))\(f.evidence.count > 2 ? ", …" : ""))" }
                out += "\n"
            }
        }
        out += section("Audit")
        out += "  \(auditVerdict)\n"
        return out
    }

    private func section(_ title: String) -> String { "\n== \(title)\n" }

    private func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
        s.count >= n ? s : (right ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count))
    }

    // MARK: HTML

    func html() -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Registre demo report</title>
        <style>
        body{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1d2433}
        h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccd}
        table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .7em;border-bottom:1px solid #e3e6ee;text-align:left}
        td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.9em}
        .ok{color:#16703a;font-weight:600}.bad{color:#b3261e;font-weight:600}.muted{color:#667}
        svg text{font:11px system-ui,sans-serif;fill:#334}
        </style></head><body>
        <h1>Registre: two simulated years of the Isère prefecture</h1>
        <p class="muted">Journal <code>\(escape(directory))</code>, \(eventCount) events. \(steps.map(escape).joined(separator: " · "))</p>
        <h2>Audit verdict</h2><p class="\(auditClean ? "ok" : "bad")">\(escape(auditVerdict))</p>
        <h2>Appointments per month, simulated \(escape(simulatedMonths))</h2>\(barChart(appointmentsPerMonth.map { ($0.month, Double($0.count)) }, unit: ""))
        <h2>Delay from complete file to permit available</h2>
        <p>\(escape(delayCohort)).</p>
        <table><tr><th>category</th><th>dossiers</th><th>median (days)</th><th>p90 (days)</th><th>still open at the end</th><th>press release</th></tr>
        \(delays.map { "<tr><td>\(escape($0.category))</td><td class=n>\($0.count)</td><td class=n>\(String(format: "%.0f", $0.medianDays))</td><td class=n>\(String(format: "%.0f", $0.p90Days))</td><td class=n>\($0.stillOpen)</td><td>\(escape($0.pressRelease))</td></tr>" }.joined())
        </table>
        \(lineChart())
        <h2>Live bot storm: bookings per second after the release</h2>
        <p>\(escape(stormSummary))</p>\(stormChart())
        <h2>Slot releases</h2>
        <table><tr><th>release</th><th>slots</th><th>time to run out</th><th>client fingerprints</th></tr>
        \(releases.prefix(40).map { "<tr><td>\(escape($0.id))</td><td class=n>\($0.slots)</td><td class=n>\($0.secondsToExhaustion.map(Self.readableDuration) ?? "not exhausted")</td><td class=n>\($0.fingerprints)</td></tr>" }.joined())
        </table>
        <h2>Abuse ranking</h2>
        <table><tr><th>fingerprint</th><th>score</th><th>flags (rule: detail)</th></tr>
        \(suspects.prefix(15).map { s in "<tr><td><code>\(escape(String(s.fingerprint.prefix(16))))…</code></td><td class=n>\(String(format: "%.1f", s.score))</td><td>\(s.flags.map { "<b>\(escape($0.rule))</b>: \(escape($0.detail))\($0.evidence.isEmpty ? "" : " <span class=muted>(e.g. \(escape($0.evidence.prefix(2).joined(separator: ", "))))</span>")" }.joined(separator: "<br>"))</td></tr>" }.joined())
        </table>
        <p class="muted">Generated by <code>registre demo</code>. No external resources.</p>
        </body></html>
        """
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    private func barChart(_ values: [(String, Double)], unit: String) -> String {
        guard !values.isEmpty else { return "<p class=muted>no data</p>" }
        let width = 900.0, height = 220.0, left = 40.0, bottom = 30.0
        let top = max(1, values.map(\.1).max() ?? 1)
        let barWidth = (width - left) / Double(values.count)
        var svg = "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\">"
        for (i, (label, v)) in values.enumerated() {
            let h = (height - bottom - 10) * v / top
            let x = left + Double(i) * barWidth
            svg += "<rect x=\"\(f(x + 2))\" y=\"\(f(height - bottom - h))\" width=\"\(f(barWidth - 4))\" height=\"\(f(h))\" fill=\"#3d6fb6\"><title>\(escape(label)): \(Int(v))\(unit)</title></rect>"
            svg += "<text x=\"\(f(x + barWidth / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">\(escape(String(label.suffix(5))))</text>"
            svg += "<text x=\"\(f(x + barWidth / 2))\" y=\"\(f(height - bottom - h - 3))\" text-anchor=\"middle\">\(Int(v))</text>"
        }
        return svg + "</svg>"
    }

    private func lineChart() -> String {
        let series = delaysPerMonth.filter { !$0.months.isEmpty }
        guard !series.isEmpty else { return "" }
        let months = Array(Set(series.flatMap { $0.months.map(\.month) })).sorted()
        let width = 900.0, height = 260.0, left = 45.0, bottom = 30.0, right = 130.0
        let top = max(30, series.flatMap { $0.months.map(\.medianDays) }.max() ?? 30)
        let colors = ["#3d6fb6", "#c0392b", "#16a085", "#8e44ad", "#d68910", "#566573"]
        func x(_ m: String) -> Double { left + (width - left - right) * Double(months.firstIndex(of: m) ?? 0) / Double(max(1, months.count - 1)) }
        func y(_ d: Double) -> Double { height - bottom - (height - bottom - 10) * d / top }
        var svg = "<p>Median delay (days) by month of completion:</p><svg width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\">"
        for tick in stride(from: 0.0, through: top, by: 60) {
            svg += "<line x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(y(tick)))\" y2=\"\(f(y(tick)))\" stroke=\"#e3e6ee\"/><text x=\"4\" y=\"\(f(y(tick) + 4))\">\(Int(tick))</text>"
        }
        for (i, s) in series.enumerated() {
            let color = colors[i % colors.count]
            let points = s.months.map { "\(f(x($0.month))),\(f(y($0.medianDays)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points)\"/>"
            svg += "<text x=\"\(f(width - right + 8))\" y=\"\(f(20 + Double(i) * 16))\" style=\"fill:\(color)\">\(escape(s.category))</text>"
        }
        for m in months { svg += "<text x=\"\(f(x(m)))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">\(escape(String(m.suffix(5))))</text>" }
        return svg + "</svg>"
    }

    private func stormChart() -> String {
        guard !storm.isEmpty else { return "" }
        let width = 900.0, height = 220.0, left = 40.0, bottom = 30.0
        let top = Double(max(1, storm.map { $0.bots + $0.genuine }.max() ?? 1))
        let w = (width - left) / Double(storm.count)
        var svg = "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\">"
        for (i, s) in storm.enumerated() {
            let hb = (height - bottom - 10) * Double(s.bots) / top
            let hg = (height - bottom - 10) * Double(s.genuine) / top
            let x = left + Double(i) * w
            svg += "<rect x=\"\(f(x + 1))\" y=\"\(f(height - bottom - hb))\" width=\"\(f(max(1, w - 2)))\" height=\"\(f(hb))\" fill=\"#c0392b\"><title>second \(s.second): \(s.bots) bot bookings</title></rect>"
            svg += "<rect x=\"\(f(x + 1))\" y=\"\(f(height - bottom - hb - hg))\" width=\"\(f(max(1, w - 2)))\" height=\"\(f(hg))\" fill=\"#16a085\"><title>second \(s.second): \(s.genuine) genuine bookings</title></rect>"
            if storm.count <= 30 || i % 5 == 0 { svg += "<text x=\"\(f(x + w / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">\(s.second)s</text>" }
        }
        svg += "<text x=\"\(f(width - 200))\" y=\"16\" style=\"fill:#c0392b\">bots</text><text x=\"\(f(width - 150))\" y=\"16\" style=\"fill:#16a085\">genuine applicants</text>"
        return svg + "</svg>"
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
