// The commit baked into a build. `make release` writes BuildCommit.generated.swift (gitignored) with the real
// commit and defines PORTWARDEN_GENERATED_COMMIT; a plain `swift build` uses this fallback.
#if !PORTWARDEN_GENERATED_COMMIT
    /// The commit the binary was built from, shown by `--version`; unknown outside `make release`.
    let buildCommit = "unknown commit"
#endif
