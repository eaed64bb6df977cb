using System.Text;

namespace UltraMem.IO;

/// <summary>
/// All-or-nothing file writes: the content goes to a uniquely named temporary file in the
/// destination's directory, is flushed to disk, and is then renamed over the destination.
/// A reader sees either the old file or the complete new one, never a partial write.
/// </summary>
public static class AtomicFile
{
    const int BufferSize = 1 << 16;

    /// <summary>
    /// Writes <paramref name="path"/> through <paramref name="writer"/>. If the writer (or the flush
    /// or rename) throws, the temporary file is deleted, the existing destination is left untouched,
    /// and the exception propagates. The writer must not dispose the stream it is given.
    /// </summary>
    public static void Write(string path, Action<Stream> writer)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(writer);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no parent directory", nameof(path));
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize))
            {
                writer(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Atomically writes <paramref name="text"/> as UTF-8 without a byte-order mark.</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteAllBytes(path, new UTF8Encoding(false, throwOnInvalidBytes: true).GetBytes(text));
    }

    /// <summary>Atomically writes <paramref name="bytes"/>.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, s => s.Write(bytes));
    }
}
