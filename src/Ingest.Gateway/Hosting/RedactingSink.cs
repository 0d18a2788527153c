using System.Globalization;
using Serilog.Core;
using Serilog.Events;
using Serilog.Parsing;

namespace Ingest.Gateway.Hosting;

/// <summary>
/// The step every log event passes before any sink: a copy with credentials masked
/// (<see cref="LogRedactor"/>) in its message template, its property values (strings, and the text
/// of other objects such as URLs, within sequences, structures and dictionaries too) and its
/// exception's text (stack traces kept). An event with nothing to mask passes unchanged.
/// </summary>
internal sealed class RedactingSink(ILogEventSink inner, LogRedactor redactor) : ILogEventSink, IDisposable
{
    public void Emit(LogEvent logEvent) => inner.Emit(Redact(logEvent));

    public void Dispose()
    {
        (inner as IDisposable)?.Dispose();
        redactor.Dispose();
    }

    internal LogEvent Redact(LogEvent logEvent)
    {
        var changed = false;
        var template = logEvent.MessageTemplate;
        var text = redactor.Redact(template.Text);
        if (!ReferenceEquals(text, template.Text))
        {
            template = new MessageTemplateParser().Parse(text);
            changed = true;
        }

        List<LogEventProperty>? properties = null; // copied once the first value changes
        foreach (var (name, value) in logEvent.Properties)
        {
            var redacted = Redact(value);
            if (properties is null && !ReferenceEquals(redacted, value))
            {
                properties = logEvent.Properties.TakeWhile(p => p.Key != name).Select(p => new LogEventProperty(p.Key, p.Value)).ToList();
                changed = true;
            }

            properties?.Add(new LogEventProperty(name, redacted));
        }

        var exception = logEvent.Exception;
        if (exception is not null)
        {
            var full = exception.ToString();
            var redacted = redactor.Redact(full);
            if (!ReferenceEquals(redacted, full))
            {
                exception = new RedactedException(redactor.Redact(exception.Message), redacted);
                changed = true;
            }
        }

        return changed
            ? new LogEvent(logEvent.Timestamp, logEvent.Level, exception, template, properties ?? logEvent.Properties.Select(p => new LogEventProperty(p.Key, p.Value)), logEvent.TraceId ?? default, logEvent.SpanId ?? default)
            : logEvent;
    }

    private LogEventPropertyValue Redact(LogEventPropertyValue value)
    {
        switch (value)
        {
            case ScalarValue { Value: string text }:
                return Redacted(value, text);
            case ScalarValue { Value: null or bool or char or byte or sbyte or short or ushort or int or uint or long or ulong or float or double or decimal or DateTime or DateTimeOffset or TimeSpan or Guid or Enum }:
                return value;
            case ScalarValue scalar:
                // Objects the sink would render with ToString (a Uri, a QueryString, a PathString...).
                return Redacted(value, Convert.ToString(scalar.Value, CultureInfo.InvariantCulture) ?? "");
            case SequenceValue sequence:
                var elements = sequence.Elements.Select(Redact).ToArray();
                return Unchanged(sequence.Elements, elements) ? value : new SequenceValue(elements);
            case StructureValue structure:
                var members = structure.Properties.Select(p => Redact(p.Value)).ToArray();
                return Unchanged(structure.Properties.Select(p => p.Value), members)
                    ? value
                    : new StructureValue(structure.Properties.Select((p, i) => new LogEventProperty(p.Name, members[i])), structure.TypeTag);
            case DictionaryValue dictionary:
                var keys = dictionary.Elements.Keys.Select(k => (ScalarValue)Redact(k)).ToArray();
                var values = dictionary.Elements.Values.Select(Redact).ToArray();
                return Unchanged(dictionary.Elements.Keys, keys) && Unchanged(dictionary.Elements.Values, values)
                    ? value
                    : new DictionaryValue(keys.Zip(values, KeyValuePair.Create));
            default:
                return value;
        }
    }

    private static bool Unchanged(IEnumerable<LogEventPropertyValue> before, IEnumerable<LogEventPropertyValue> after) =>
        before.Zip(after).All(pair => ReferenceEquals(pair.First, pair.Second));

    private LogEventPropertyValue Redacted(LogEventPropertyValue value, string text)
    {
        var redacted = redactor.Redact(text);
        return ReferenceEquals(redacted, text) ? value : new ScalarValue(redacted);
    }
}

/// <summary>An exception as it is logged once its credentials are masked: the original's text, stack traces included.</summary>
internal sealed class RedactedException(string message, string text) : Exception(message)
{
    public override string ToString() => text;
}
