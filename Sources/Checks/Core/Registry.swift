/// Every built-in check, in id order. Written by hand: a test checks ids are unique and every check is listed and documented.
public let builtInChecks: [any Check.Type] = [
    UndeclaredListener.self,
    RequiredListenerMissing.self,
    UnexpectedOwner.self,
    ExposureTooWide.self,
    WildcardBind.self,
    SensitiveServiceExposed.self,
    ForbiddenPort.self,
    PrivilegedPortOwner.self,
    UnprivilegedPortStartLowered.self,
    EphemeralPortListener.self,
    EphemeralRangeSmall.self,
    FamilyMismatch.self,
    NoFirewall.self,
    InputAcceptsAll.self,
    FirewallUnreadable.self,
    LegacyIptables.self,
    ShadowedRule.self,
    RedundantRule.self,
    StaleOpening.self,
    BroadAccept.self,
    ConditionalExposure.self,
    ExpiredSuppression.self,
    PublishedPortBypassesInput.self,
    PublishedPortNotListening.self,
    ForwardingAcceptsAll.self,
    NeighbourDiscoveryDropped.self,
    PublishedPortTooWide.self
]

/// The check with this id or slug.
public func check(named name: String) -> (any Check.Type)? {
    builtInChecks.first { $0.metadata.id == name || $0.metadata.slug == name }
}
