/** One sample of a Prometheus text exposition. */
export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: its samples and each metric family's declared type. */
export interface PrometheusScrape {
  samples: PrometheusSample[];
  /** `# TYPE` of each family (`counter`, `gauge`, `histogram`, …). */
  types: Map<string, string>;
  /** The sum of the samples named `name` whose labels include `labels`; undefined when none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample name a query may use: the families, and `_bucket`/`_sum`/`_count` of histograms. */
  names(): Set<string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;

const unescapeLabel = (value: string) =>
  value.replace(/\\(["\\n])/g, (_, character: string) => (character === "n" ? "\n" : character));

/**
 * Parses the text format (version 0.0.4) strictly enough for tests: a line that is neither a
 * comment nor a sample fails the parse, so a malformed exposition cannot pass unnoticed.
 */
export function parsePrometheusText(text: string): PrometheusScrape {
  const samples: PrometheusSample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types.set(type[1]!, type[2]!);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const [, name, labelText = "", valueText] = match;
    const labels: Record<string, string> = {};
    for (const label of labelText.matchAll(LABEL)) labels[label[1]!] = unescapeLabel(label[2]!);
    // Go's ParseFloat, which Prometheus uses, takes NaN and Inf in any case (prom-client writes "Nan").
    const special: Record<string, number> = {
      nan: Number.NaN,
      "+inf": Infinity,
      inf: Infinity,
      "-inf": -Infinity,
    };
    const value = special[valueText!.toLowerCase()] ?? Number(valueText);
    if (Number.isNaN(value) && valueText!.toLowerCase() !== "nan")
      throw new Error(`not a sample value: ${line}`);
    samples.push({ name: name!, labels, value });
  }
  return {
    samples,
    types,
    value(name, labels = {}) {
      const matching = samples.filter(
        (sample) =>
          sample.name === name &&
          Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
      );
      return matching.length === 0 ? undefined : matching.reduce((sum, sample) => sum + sample.value, 0);
    },
    names() {
      const names = new Set<string>();
      for (const [name, type] of types) {
        names.add(name);
        if (type === "histogram" || type === "summary") {
          for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`);
        }
      }
      return names;
    },
  };
}
