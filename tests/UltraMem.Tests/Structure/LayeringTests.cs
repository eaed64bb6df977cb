using System.Text.RegularExpressions;

namespace UltraMem.Tests.Structure;

/// <summary>
/// The library's folders form layers: each may use the folders before it, never one after it, so there are no cycles and
/// <c>Layers/</c> is a leaf above the foundation (README, "Layout"). The scan reads what each source file uses: its
/// <c>using</c> directives, fully qualified names (<c>UltraMem.Model.X</c>) and names qualified from the root namespace
/// (<c>Model.ModelConfig</c> inside <c>namespace UltraMem.Layers</c>), comments and strings removed.
/// </summary>
public sealed class LayeringTests
{
    /// <summary>The folders of src/UltraMem, lowest first; folders in one group may not use each other.</summary>
    public static readonly string[][] Order =
    {
        new[] { "Platform", "IO" },
        new[] { "Reporting" },
        new[] { "Tokenization" },
        new[] { "Data" },
        new[] { "Layers" },
        new[] { "Model" },
        new[] { "Architectures" },
        new[] { "Inference" },
        new[] { "Training" },
        new[] { "Experiments", "Benchmarks" },
    };

    static int Rank(string folder)
    {
        for (int i = 0; i < Order.Length; i++)
            if (Order[i].Contains(folder))
                return i;
        return -1;
    }

    static string SourceRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "src", "UltraMem", "Layers")))
                return Path.Combine(d.FullName, "src", "UltraMem");
        throw new InvalidOperationException("src/UltraMem not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Type names declared in each folder (for names qualified from the root namespace, e.g. <c>Model.ModelConfig</c>).</summary>
    static Dictionary<string, HashSet<string>> DeclaredTypes(IEnumerable<(string Folder, string Code)> files)
    {
        var types = new Dictionary<string, HashSet<string>>();
        var decl = new Regex(@"\b(?:class|record|struct|interface|enum)\s+(?:struct\s+|class\s+)?([A-Z]\w*)");
        foreach (var (folder, code) in files)
        {
            if (!types.TryGetValue(folder, out var set))
                types[folder] = set = new HashSet<string>();
            foreach (Match m in decl.Matches(code))
                set.Add(m.Groups[1].Value);
        }
        return types;
    }

    /// <summary>Code without comments, string and character literals (so documentation may name any type).</summary>
    public static string StripCommentsAndStrings(string code) =>
        Regex.Replace(
            code,
            @"//[^\n]*|/\*.*?\*/|@""(?:[^""]|"""")*""|\$?""(?:\\.|[^""\\\n])*""|'(?:\\.|[^'\\\n])+'",
            "",
            RegexOptions.Singleline
        );

    /// <summary>The top-level folders (namespaces under <c>UltraMem.</c>) a file's code uses.</summary>
    public static ISet<string> Uses(string code, IReadOnlyDictionary<string, HashSet<string>> declared)
    {
        var used = new HashSet<string>();
        code = StripCommentsAndStrings(code);
        foreach (Match m in Regex.Matches(code, @"\bUltraMem\.([A-Z]\w*)"))
            used.Add(m.Groups[1].Value);
        foreach (Match m in Regex.Matches(code, @"(?<![\w.])([A-Z]\w*)\.([A-Z]\w*)"))
            if (declared.TryGetValue(m.Groups[1].Value, out var types) && types.Contains(m.Groups[2].Value))
                used.Add(m.Groups[1].Value);
        return used;
    }

    /// <summary>"file: Folder uses Other" for every use of a folder at the same or a higher layer than the file's own.</summary>
    public static List<string> Violations(IEnumerable<(string Path, string Folder, string Code)> files)
    {
        var all = files.ToList();
        var declared = DeclaredTypes(all.Select(f => (f.Folder, f.Code)));
        var found = new List<string>();
        foreach (var (path, folder, code) in all)
        {
            int own = Rank(folder);
            foreach (var other in Uses(code, declared).Where(u => u != folder && Rank(u) >= 0).OrderBy(u => u))
                if (own < 0 || Rank(other) >= own)
                    found.Add($"{path}: {folder} uses {other}");
        }
        return found;
    }

    static IEnumerable<(string Path, string Folder, string Code)> Library()
    {
        string root = SourceRoot();
        foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (rel.StartsWith("obj/") || rel.StartsWith("bin/") || !rel.Contains('/'))
                continue; // root files: UltraMemException
            yield return (rel, rel[..rel.IndexOf('/')], File.ReadAllText(file));
        }
    }

    [Fact]
    public void EveryFolderOfTheLibraryIsInTheOrder()
    {
        var folders = Library().Select(f => f.Folder).Distinct().OrderBy(f => f).ToList();
        Assert.DoesNotContain(folders, f => Rank(f) < 0);
    }

    [Fact]
    public void NoFolderUsesOneAboveItAndLayersIsALeaf()
    {
        var violations = Violations(Library());
        Assert.True(violations.Count == 0, "layering violations:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void TheScanCatchesALayerThatUsesTheModel()
    {
        var model = ("Model/ModelConfig.cs", "Model", "namespace UltraMem.Model;\npublic sealed record ModelConfig { }");
        var clean = (
            "Layers/Clean.cs",
            "Layers",
            "namespace UltraMem.Layers;\n/// <see cref=\"Model.ModelConfig\"/>\npublic class Clean { string s = \"Model.ModelConfig\"; }"
        );
        Assert.Empty(Violations(new[] { model, clean }));
        foreach (
            var code in new[]
            {
                "using UltraMem.Model;\nnamespace UltraMem.Layers;\npublic class Bad { }",
                "namespace UltraMem.Layers;\npublic class Bad { UltraMem.Model.ModelConfig? c; }",
                "namespace UltraMem.Layers;\npublic class Bad { void F(Model.ModelConfig c) { } }",
            }
        )
            Assert.Equal(new[] { "Layers/Bad.cs: Layers uses Model" }, Violations(new[] { model, ("Layers/Bad.cs", "Layers", code) }));
        // a property that happens to be called Model is not the namespace
        Assert.Empty(
            Violations(
                new[]
                {
                    model,
                    ("Tokenization/T.cs", "Tokenization", "namespace UltraMem.Tokenization;\nclass T { int N => Model.Tokens.Count; }"),
                }
            )
        );
    }
}
