/// A command or event refused by a business rule.
public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var rule: RuleName
    public var message: String
    /// The event of the append that broke the rule, when the rule was checked on an append.
    public var eventIndex: Int?

    public init(rule: RuleName, message: String, eventIndex: Int? = nil) {
        self.rule = rule
        self.message = message
        self.eventIndex = eventIndex
    }

    init(_ rule: RuleName, _ message: String) {
        self.init(rule: rule, message: message)
    }

    public var description: String { "\(rule.rawValue): \(message)" }
}
