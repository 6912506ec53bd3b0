/// The residence-permit domain: event catalogue, validation and decision rules. Filled by the Domain issue.
public enum DomainCatalogue {
    public static let version = 1
}
