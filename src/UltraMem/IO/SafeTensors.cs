using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace UltraMem.IO;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of
/// UTF-8 JSON (<c>{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}}</c>,
/// space-padded to a multiple of 8), then the data buffer. Offsets are relative to the buffer,
/// which the tensors must cover exactly, without gaps or overlaps. Data is little-endian, row-major.
/// Reading is strict: every header field is checked before anything is allocated from it.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest header accepted, as in the reference implementation.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    internal const long DefaultChunkBytes = 64L << 20;
    const string MetadataKey = "__metadata__";
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    static readonly (string Name, ScalarType Type, int Size)[] DTypes =
    [
        ("F64", ScalarType.Float64, 8),
        ("F32", ScalarType.Float32, 4),
        ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2),
        ("I64", ScalarType.Int64, 8),
        ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2),
        ("I8", ScalarType.Int8, 1),
        ("U8", ScalarType.Byte, 1),
        ("BOOL", ScalarType.Bool, 1),
    ];

    /// <summary>The safetensors name of a supported dtype (<c>F32</c>, <c>BF16</c>, ...).</summary>
    /// <exception cref="ArgumentException">The dtype has no safetensors name supported here.</exception>
    public static string DTypeName(ScalarType dtype) =>
        TryFind(dtype, out var name, out _)
            ? name
            : throw new ArgumentException($"dtype {dtype} is not supported by safetensors I/O", nameof(dtype));

    /// <summary>Parses a safetensors dtype name; false for names not supported here.</summary>
    public static bool TryParseDType(string name, out ScalarType dtype)
    {
        foreach (var d in DTypes)
            if (d.Name == name)
            {
                dtype = d.Type;
                return true;
            }
        dtype = default;
        return false;
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> (CPU, any supported dtype, contiguous or not) and optional
    /// string metadata to <paramref name="path"/> atomically. Tensors are stored sorted by name
    /// (UTF-8 byte order), each copied out chunk by chunk without a whole-file buffer.
    /// </summary>
    /// <exception cref="UltraMemException">Duplicate or reserved names, unsupported dtype or device, or an I/O failure.</exception>
    public static void Save(
        string path,
        IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null
    ) => Save(path, tensors, metadata, DefaultChunkBytes);

    internal static void Save(
        string path,
        IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata,
        long chunkBytes
    )
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        EnsureLittleEndian();
        var entries = Prepare(path, tensors);
        byte[] header = BuildHeader(path, entries, metadata);
        try
        {
            AtomicFile.Write(
                path,
                stream =>
                {
                    Span<byte> length = stackalloc byte[8];
                    BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                    stream.Write(length);
                    stream.Write(header);
                    using var noGrad = torch.no_grad();
                    foreach (var e in entries)
                        WriteTensor(stream, e.Tensor, e.ByteLength, chunkBytes);
                }
            );
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UltraMemException($"cannot write safetensors file '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Reads and validates only the header of <paramref name="path"/> (names, dtypes, shapes,
    /// offsets, metadata); the data buffer is not read.
    /// </summary>
    /// <exception cref="UltraMemException">The file cannot be read or is not a well-formed safetensors file.</exception>
    public static SafeTensorsHeader ReadHeader(string path)
    {
        using var stream = OpenRead(path);
        return ReadHeader(stream, path);
    }

    /// <summary>
    /// Loads every tensor of <paramref name="path"/> onto the CPU. With <paramref name="expected"/>,
    /// the header is first checked against it (<see cref="SafeTensorsHeader.EnsureMatches"/>) so a
    /// mismatching checkpoint fails before any data is read.
    /// </summary>
    /// <exception cref="UltraMemException">The file cannot be read, is malformed, or does not match <paramref
    /// name="expected"/>.</exception>
    public static SafeTensorsFile Load(string path, IReadOnlyDictionary<string, (ScalarType DType, long[] Shape)>? expected = null) =>
        Load(path, expected, DefaultChunkBytes);

    internal static SafeTensorsFile Load(
        string path,
        IReadOnlyDictionary<string, (ScalarType DType, long[] Shape)>? expected,
        long chunkBytes
    )
    {
        EnsureLittleEndian();
        using var stream = OpenRead(path);
        var header = ReadHeader(stream, path);
        if (expected != null)
            header.EnsureMatches(expected);
        var tensors = new Dictionary<string, Tensor>(header.Tensors.Count, StringComparer.Ordinal);
        try
        {
            stream.Position = header.DataStart;
            using var noGrad = torch.no_grad();
            foreach (var info in header.Tensors)
            {
                var t = torch.empty(info.ShapeArray, dtype: info.DType, device: torch.CPU);
                tensors.Add(info.Name, t);
                ReadTensor(stream, t, info, path, chunkBytes);
            }
        }
        catch (Exception ex)
        {
            foreach (var t in tensors.Values)
                t.Dispose();
            if (ex is IOException or UnauthorizedAccessException)
                throw new UltraMemException($"cannot read safetensors file '{path}': {ex.Message}", ex);
            throw;
        }
        return new SafeTensorsFile(header, tensors);
    }

    // ---------------------------------------------------------------- writing

    sealed record Entry(string Name, byte[] NameUtf8, Tensor Tensor, ScalarType DType, long[] Shape, long ByteLength);

    static List<Entry> Prepare(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in tensors)
        {
            if (name is null)
                throw SaveError(path, "a tensor name is null");
            if (name == MetadataKey)
                throw SaveError(path, $"'{MetadataKey}' is reserved and cannot name a tensor");
            if (!names.Add(name))
                throw SaveError(path, $"duplicate tensor name '{name}'");
            if (t is null || t.IsInvalid)
                throw SaveError(path, $"tensor '{name}' is null or disposed");
            if (!TryFind(t.dtype, out _, out int size))
                throw SaveError(path, $"tensor '{name}' has unsupported dtype {t.dtype}");
            if (t.device_type != DeviceType.CPU)
                throw SaveError(path, $"tensor '{name}' is on {t.device}; move it to the CPU first");
            if (t.is_sparse)
                throw SaveError(path, $"tensor '{name}' is sparse; only dense tensors can be saved");
            long[] shape = t.shape;
            long bytes = checked(t.numel() * size);
            entries.Add(new Entry(name, Utf8(path, name), t, t.dtype, shape, bytes));
        }
        entries.Sort((a, b) => a.NameUtf8.AsSpan().SequenceCompareTo(b.NameUtf8));
        return entries;
    }

    static byte[] BuildHeader(string path, List<Entry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        var sb = new StringBuilder(64 + 96 * entries.Count);
        sb.Append('{');
        bool first = true;
        if (metadata is { Count: > 0 })
        {
            sb.Append('"').Append(MetadataKey).Append("\":{");
            var keys = metadata.Keys.Select(k => (Key: k, Utf8: Utf8(path, k))).ToList();
            keys.Sort((a, b) => a.Utf8.AsSpan().SequenceCompareTo(b.Utf8));
            bool firstKey = true;
            foreach (var (key, _) in keys)
            {
                string value = metadata[key] ?? throw SaveError(path, $"metadata value of '{key}' is null");
                Utf8(path, value); // rejects lone surrogates before anything is written
                if (!firstKey)
                    sb.Append(',');
                firstKey = false;
                JsonText.AppendString(sb, key).Append(':');
                JsonText.AppendString(sb, value);
            }
            sb.Append('}');
            first = false;
        }
        long offset = 0;
        foreach (var e in entries)
        {
            if (!first)
                sb.Append(',');
            first = false;
            JsonText.AppendString(sb, e.Name);
            sb.Append(":{\"dtype\":\"").Append(DTypeName(e.DType)).Append("\",\"shape\":[");
            sb.AppendJoin(',', e.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)));
            long end = checked(offset + e.ByteLength);
            sb.Append("],\"data_offsets\":[")
                .Append(offset.ToString(CultureInfo.InvariantCulture))
                .Append(',')
                .Append(end.ToString(CultureInfo.InvariantCulture))
                .Append("]}");
            offset = end;
        }
        sb.Append('}');
        byte[] json = Utf8(path, sb.ToString());
        int padding = (8 - json.Length % 8) % 8; // the reference pads with spaces to 8-byte alignment
        if (json.LongLength + padding > MaxHeaderBytes)
            throw SaveError(path, $"header would be {json.LongLength} bytes, over the {MaxHeaderBytes}-byte limit");
        var header = new byte[json.Length + padding];
        json.CopyTo(header, 0);
        header.AsSpan(json.Length).Fill((byte)' ');
        return header;
    }

    /// <summary>Streams a tensor's bytes straight from its memory, in chunks of at most <paramref name="chunkBytes"/>.</summary>
    static void WriteTensor(Stream stream, Tensor tensor, long byteLength, long chunkBytes)
    {
        if (byteLength == 0)
            return;
        using var contiguous = tensor.contiguous();
        using var flat = contiguous.view(-1);
        long n = flat.shape[0];
        long perChunk = Math.Max(1, chunkBytes / flat.element_size());
        for (long i = 0; i < n; i += perChunk)
        {
            using var part = flat.narrow(0, i, Math.Min(perChunk, n - i));
            stream.Write(part.bytes);
        }
    }

    static byte[] Utf8(string path, string s)
    {
        try
        {
            return StrictUtf8.GetBytes(s);
        }
        catch (ArgumentException ex)
        {
            throw new UltraMemException($"cannot save safetensors file '{path}': string '{s}' is not valid Unicode (lone surrogate)", ex);
        }
    }

    static UltraMemException SaveError(string path, string problem) => new($"cannot save safetensors file '{path}': {problem}");

    // ---------------------------------------------------------------- reading

    static FileStream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UltraMemException($"cannot read safetensors file '{path}': {ex.Message}", ex);
        }
    }

    static SafeTensorsHeader ReadHeader(FileStream stream, string path)
    {
        try
        {
            long fileLength = stream.Length;
            if (fileLength < 8)
                throw Bad(path, $"file is {fileLength} bytes, shorter than the 8-byte header length");
            Span<byte> prefix = stackalloc byte[8];
            stream.ReadExactly(prefix);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (n > MaxHeaderBytes)
                throw Bad(path, $"header length {n} exceeds the {MaxHeaderBytes}-byte limit");
            if ((long)n > fileLength - 8)
                throw Bad(path, $"header length {n} runs past the end of the {fileLength}-byte file");
            var json = new byte[n];
            stream.ReadExactly(json);
            long dataStart = 8 + (long)n;
            return ParseHeader(path, json, dataStart, fileLength - dataStart);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UltraMemException($"cannot read safetensors file '{path}': {ex.Message}", ex);
        }
    }

    internal static SafeTensorsHeader ParseHeader(string path, byte[] json, long dataStart, long dataLength)
    {
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw Bad(path, "header is not valid UTF-8");
        if (json.Length == 0 || json[0] != (byte)'{')
            throw Bad(path, "header does not start with '{'");
        var raw = new List<RawEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            Next(ref reader, path);
            var keys = new HashSet<string>(StringComparer.Ordinal);
            while (true)
            {
                Next(ref reader, path);
                if (reader.TokenType == JsonTokenType.EndObject)
                    break;
                string key = reader.GetString()!;
                if (!keys.Add(key))
                    throw Bad(path, $"duplicate key '{key}' in header");
                Next(ref reader, path);
                if (key == MetadataKey)
                    ReadMetadata(ref reader, path, metadata);
                else
                    raw.Add(ReadEntry(ref reader, path, key));
            }
            if (reader.Read())
                throw Bad(path, "unexpected content after the header object");
        }
        catch (JsonException ex)
        {
            throw new UltraMemException($"safetensors file '{path}': header is not valid JSON: {ex.Message}", ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new UltraMemException($"safetensors file '{path}': header is not valid JSON: {ex.Message}", ex);
        }
        return new SafeTensorsHeader(path, Validate(path, raw, dataLength), metadata, dataStart, dataLength);
    }

    sealed record RawEntry(string Name, string DType, List<long> Shape, long Begin, long End);

    static void ReadMetadata(ref Utf8JsonReader reader, string path, Dictionary<string, string> metadata)
    {
        if (reader.TokenType == JsonTokenType.Null)
            return; // the reference treats null as "no metadata"
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Bad(path, $"'{MetadataKey}' must be an object of strings");
        while (true)
        {
            Next(ref reader, path);
            if (reader.TokenType == JsonTokenType.EndObject)
                return;
            string key = reader.GetString()!;
            if (metadata.ContainsKey(key))
                throw Bad(path, $"duplicate metadata key '{key}'");
            Next(ref reader, path);
            if (reader.TokenType != JsonTokenType.String)
                throw Bad(path, $"metadata value of '{key}' is {reader.TokenType}, not a string");
            metadata.Add(key, reader.GetString()!);
        }
    }

    static RawEntry ReadEntry(ref Utf8JsonReader reader, string path, string name)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Bad(path, $"tensor '{name}': entry is {reader.TokenType}, not an object");
        string? dtype = null;
        List<long>? shape = null,
            offsets = null;
        while (true)
        {
            Next(ref reader, path);
            if (reader.TokenType == JsonTokenType.EndObject)
                break;
            string field = reader.GetString()!;
            Next(ref reader, path);
            switch (field)
            {
                case "dtype":
                    if (dtype != null)
                        throw Bad(path, $"tensor '{name}': duplicate field 'dtype'");
                    if (reader.TokenType != JsonTokenType.String)
                        throw Bad(path, $"tensor '{name}': dtype is {reader.TokenType}, not a string");
                    dtype = reader.GetString()!;
                    break;
                case "shape":
                    if (shape != null)
                        throw Bad(path, $"tensor '{name}': duplicate field 'shape'");
                    shape = ReadIntegers(ref reader, path, name, field);
                    break;
                case "data_offsets":
                    if (offsets != null)
                        throw Bad(path, $"tensor '{name}': duplicate field 'data_offsets'");
                    offsets = ReadIntegers(ref reader, path, name, field);
                    if (offsets.Count != 2)
                        throw Bad(path, $"tensor '{name}': data_offsets must be two integers [begin, end], found {offsets.Count}");
                    break;
                default:
                    throw Bad(path, $"tensor '{name}': unknown field '{field}'");
            }
        }
        if (dtype == null)
            throw Bad(path, $"tensor '{name}': missing 'dtype'");
        if (shape == null)
            throw Bad(path, $"tensor '{name}': missing 'shape'");
        if (offsets == null)
            throw Bad(path, $"tensor '{name}': missing 'data_offsets'");
        return new RawEntry(name, dtype, shape, offsets[0], offsets[1]);
    }

    static List<long> ReadIntegers(ref Utf8JsonReader reader, string path, string name, string field)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw Bad(path, $"tensor '{name}': {field} is {reader.TokenType}, not an array");
        var values = new List<long>();
        while (true)
        {
            Next(ref reader, path);
            if (reader.TokenType == JsonTokenType.EndArray)
                return values;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0)
            {
                string token = reader.TokenType is JsonTokenType.Number or JsonTokenType.String
                    ? Encoding.UTF8.GetString(reader.ValueSpan[..Math.Min(reader.ValueSpan.Length, 40)])
                    : reader.TokenType.ToString();
                throw Bad(path, $"tensor '{name}': {field} entries must be non-negative integers, found {token}");
            }
            values.Add(v);
        }
    }

    /// <summary>The largest dimension a tensor may have (2^40): far beyond any real tensor, far below what breaks libtorch.</summary>
    public const long MaxDimension = 1L << 40;

    static List<SafeTensorInfo> Validate(string path, List<RawEntry> raw, long dataLength)
    {
        var infos = new List<SafeTensorInfo>(raw.Count);
        foreach (var e in raw)
        {
            if (!TryParseDType(e.DType, out var dtype))
                throw Bad(
                    path,
                    $"tensor '{e.Name}': unknown dtype '{e.DType}' (supported: {string.Join(", ", DTypes.Select(d => d.Name))})"
                );
            long[] shape = e.Shape.ToArray();
            long count = 1,
                bytes;
            try
            {
                foreach (long d in shape)
                    count = checked(count * d);
                bytes = checked(count * ElementSize(dtype));
            }
            catch (OverflowException)
            {
                throw Bad(path, $"tensor '{e.Name}': byte size of {e.DType} {FormatShape(shape)} overflows");
            }
            if (shape.FirstOrDefault(d => d > MaxDimension) is var huge and > 0)
                // a tensor with a zero dimension has no bytes whatever its others are (libtorch fails on some of them)
                throw Bad(path, $"tensor '{e.Name}': dimension {huge} of {FormatShape(shape)} exceeds {MaxDimension}");
            if (e.Begin > e.End)
                throw Bad(path, $"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] has begin > end");
            if (e.End > dataLength)
                throw Bad(path, $"tensor '{e.Name}': data_offsets end {e.End} is beyond the {dataLength}-byte data buffer");
            if (e.End - e.Begin != bytes)
                throw Bad(
                    path,
                    $"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] span {e.End - e.Begin} bytes but {e.DType} {FormatShape(shape)} needs {bytes}"
                );
            infos.Add(new SafeTensorInfo(e.Name, dtype, shape, count, e.Begin, e.End));
        }
        infos.Sort(
            (a, b) =>
            {
                int c = a.Begin.CompareTo(b.Begin);
                if (c == 0)
                    c = a.End.CompareTo(b.End);
                return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
            }
        );
        long position = 0;
        SafeTensorInfo? previous = null;
        foreach (var info in infos)
        {
            if (info.Begin < position)
                throw Bad(
                    path,
                    $"tensor '{info.Name}' [{info.Begin}, {info.End}] overlaps tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]"
                );
            if (info.Begin > position)
                throw Bad(path, $"gap of {info.Begin - position} bytes in the data buffer before tensor '{info.Name}' (offset {position})");
            position = info.End;
            previous = info;
        }
        if (position != dataLength)
            throw Bad(
                path,
                $"{dataLength - position} trailing bytes after the last tensor (data buffer is {dataLength} bytes, tensors cover {position})"
            );
        return infos;
    }

    /// <summary>Reads a tensor's bytes straight into its memory, in chunks of at most <paramref name="chunkBytes"/>.</summary>
    static void ReadTensor(Stream stream, Tensor tensor, SafeTensorInfo info, string path, long chunkBytes)
    {
        if (info.ByteLength == 0)
            return;
        using var flat = tensor.view(-1);
        long n = flat.shape[0];
        long perChunk = Math.Max(1, chunkBytes / flat.element_size());
        for (long i = 0; i < n; i += perChunk)
        {
            using var part = flat.narrow(0, i, Math.Min(perChunk, n - i));
            Span<byte> span = part.bytes;
            try
            {
                stream.ReadExactly(span);
            }
            catch (EndOfStreamException ex)
            {
                throw new UltraMemException(
                    $"safetensors file '{path}': file ended while reading tensor '{info.Name}' (was it truncated?)",
                    ex
                );
            }
            if (info.DType == ScalarType.Bool && span.IndexOfAnyExcept((byte)0, (byte)1) >= 0)
                throw Bad(path, $"tensor '{info.Name}': BOOL data holds a byte other than 0 or 1");
        }
    }

    static void Next(ref Utf8JsonReader reader, string path)
    {
        if (!reader.Read())
            throw Bad(path, "header JSON ends early");
    }

    static UltraMemException Bad(string path, string problem) => new($"safetensors file '{path}': {problem}");

    // ---------------------------------------------------------------- helpers

    static bool TryFind(ScalarType dtype, out string name, out int size)
    {
        foreach (var d in DTypes)
            if (d.Type == dtype)
            {
                name = d.Name;
                size = d.Size;
                return true;
            }
        name = "";
        size = 0;
        return false;
    }

    static int ElementSize(ScalarType dtype) =>
        TryFind(dtype, out _, out int size) ? size : throw new ArgumentException($"unsupported dtype {dtype}");

    internal static string Describe(ScalarType dtype) => TryFind(dtype, out var name, out _) ? name : dtype.ToString();

    internal static string FormatShape(IReadOnlyList<long> shape) => "[" + string.Join(", ", shape) + "]";

    static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors I/O needs a little-endian machine");
    }
}
