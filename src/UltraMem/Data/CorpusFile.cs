using System.IO.Compression;
using System.Text;

namespace UltraMem.Data;

/// <summary>Opening corpus files by kind, transparently decompressing <c>.gz</c>.</summary>
public static class CorpusFile
{
    /// <summary>The kind of <paramref name="path"/>, judged by its extension (after removing <c>.gz</c>).</summary>
    public static CorpusFileKind KindOf(string path)
    {
        string name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        string ext = Path.GetExtension(name).ToLowerInvariant();
        return ext switch
        {
            ".txt" or ".md" => CorpusFileKind.Text,
            ".jsonl" => CorpusFileKind.Jsonl,
            _ => CorpusFileKind.Unsupported,
        };
    }

    /// <summary>A UTF-8 reader over the file, gunzipping it when its name ends in <c>.gz</c>.</summary>
    public static StreamReader OpenText(string path)
    {
        Stream stream = File.OpenRead(path);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            stream = new CountingStream(new GZipStream(stream, CompressionMode.Decompress));
        return new StreamReader(stream, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true);
    }

    /// <summary>
    /// After a gzipped file was read to its end: the bytes it gave must match the size its trailer records (ISIZE, the last
    /// four bytes, modulo 2^32). A truncated file decompresses without complaint up to the cut, so without this check a
    /// corpus would silently lose its end.
    /// </summary>
    static void EnsureWhole(string path, StreamReader reader)
    {
        if (reader.BaseStream is not CountingStream counted)
            return;
        using var file = File.OpenRead(path);
        if (file.Length < 18)
            throw new InvalidDataException("too short for a gzip file");
        file.Seek(-4, SeekOrigin.End);
        Span<byte> size = stackalloc byte[4];
        file.ReadExactly(size);
        uint recorded = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(size);
        if (recorded != (uint)counted.BytesRead)
            throw new InvalidDataException(
                $"it decompressed to {counted.BytesRead} bytes but its trailer records {recorded} (truncated, or several gzip members)"
            );
    }

    /// <summary>Counts the bytes read through it.</summary>
    sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position
        {
            get => BytesRead;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            BytesRead += n;
            return n;
        }

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            BytesRead += n;
            return n;
        }

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>The documents of one file: a text file is cut by <see cref="TextDocuments"/> when
    /// <paramref name="splitText"/> is set and is otherwise one document; a JSONL file has one per line.</summary>
    public static IReadOnlyList<Document> Read(string path, string name, bool splitText)
    {
        try
        {
            using var reader = OpenText(path);
            IReadOnlyList<Document> docs = KindOf(path) switch
            {
                CorpusFileKind.Jsonl => JsonlDocuments.Read(reader, name),
                CorpusFileKind.Text when splitText => TextDocuments.Split(reader.ReadToEnd(), name),
                CorpusFileKind.Text => [new Document(name, reader.ReadToEnd().Replace("\r\n", "\n").Replace('\r', '\n').Trim())],
                _ => throw new UltraMemException(
                    $"unsupported corpus file type: {path} (expected .txt, .md, .jsonl, or one of those gzipped)"
                ),
            };
            reader.ReadToEnd(); // a JSONL reader may stop at the last line: the rest must still be read and counted
            EnsureWhole(path, reader);
            return docs;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new UltraMemException($"cannot read corpus file {path}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }
}
