import Testing

@testable import TreesCore

/// Prometheus' naming rules, and node_exporter's need for one HELP and TYPE
/// per family whatever the root, checked on the table itself.
@Suite struct MetricFamilyTests {
    @Test(arguments: MetricFamily.allCases)
    func namedByPrometheusRules(_ family: MetricFamily) {
        #expect(family.name.range(of: "^trees_[a-z]+(_[a-z]+)*$", options: .regularExpression) != nil)
        // A counter and only a counter ends in _total; a time is in unix seconds and says so.
        #expect((family.type == "counter") == family.name.hasSuffix("_total"))
        #expect(family.help.contains("unix seconds") == family.name.hasSuffix("_timestamp_seconds"))
        #expect(!family.name.hasSuffix("_info") || family.help.hasPrefix("Always 1"))
        #expect(family.name.contains("bytes") == family.help.contains("Bytes"))
    }

    @Test(arguments: MetricFamily.allCases)
    func everySeriesNamesItsRootFirst(_ family: MetricFamily) {
        #expect(family.labels.first == "root")
        #expect(Set(family.labels).count == family.labels.count)
        #expect(!family.help.contains("\n") && !family.help.contains("\\"), "HELP is one line with nothing to escape")
    }

    @Test func familiesHaveDistinctNames() {
        #expect(Set(MetricFamily.allCases.map(\.name)).count == MetricFamily.allCases.count)
    }
}
