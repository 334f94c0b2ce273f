/** @jsxImportSource @kitajs/html */
/**
 * Server-rendered SVG charts (no client code, no CDN). Each scales with its container through its
 * viewBox, names itself for screen readers (`role="img"`, `<title>`, `<desc>`) and gives every
 * bar a `<title>` with its exact value. Labels are text children with `safe`, never attributes.
 */
import type { PropsWithChildren } from "@kitajs/html";

export interface ChartPoint {
  /** Short label under the chart or beside the bar (a day, a provider name). */
  label: string;
  /** What the bar's length is proportional to. */
  value: number;
  /** The value in words, shown on hover and to screen readers ("3 debates", "$0.12"). */
  text: string;
}

interface ChartProps {
  /** Prefix of the ids of the title and description (unique on the page). */
  id: string;
  title: string;
  /** One sentence a screen reader says for the whole chart. */
  summary: string;
  points: ChartPoint[];
}

const WIDTH = 320;

function ChartFrame(props: PropsWithChildren<ChartProps & { height: number }>): JSX.Element {
  return (
    <svg
      class="chart"
      id={props.id}
      viewBox={`0 0 ${WIDTH} ${props.height}`}
      role="img"
      aria-labelledby={`${props.id}-title ${props.id}-desc`}
      xmlns="http://www.w3.org/2000/svg"
    >
      <title id={`${props.id}-title`} safe>
        {props.title}
      </title>
      <desc id={`${props.id}-desc`} safe>
        {props.summary}
      </desc>
      {props.children}
    </svg>
  );
}

/** One column per point (days, oldest first), with the first and last labels and the maximum. */
export function ColumnChart(props: ChartProps & { maxText: string }): JSX.Element {
  const height = 150;
  const top = 14;
  const bottom = 20;
  const plot = height - top - bottom;
  const max = Math.max(0, ...props.points.map((point) => point.value));
  const step = WIDTH / Math.max(1, props.points.length);
  const first = props.points[0];
  const last = props.points.at(-1);
  return (
    <ChartFrame {...props} height={height}>
      <line class="axis" x1="0" y1={height - bottom} x2={WIDTH} y2={height - bottom} />
      <text class="chart-label" x="0" y="10" safe>
        {`max ${props.maxText}`}
      </text>
      {props.points.map((point, index) => {
        const barHeight = max > 0 ? Math.max(point.value > 0 ? 1 : 0, (point.value / max) * plot) : 0;
        return (
          <rect
            class="bar"
            x={(index * step + step * 0.15).toFixed(2)}
            y={(height - bottom - barHeight).toFixed(2)}
            width={(step * 0.7).toFixed(2)}
            height={barHeight.toFixed(2)}
          >
            <title safe>{`${point.label}: ${point.text}`}</title>
          </rect>
        );
      })}
      {first ? (
        <text class="chart-label" x="0" y={height - 5} safe>
          {first.label}
        </text>
      ) : (
        ""
      )}
      {last && last !== first ? (
        <text class="chart-label" x={WIDTH} y={height - 5} text-anchor="end" safe>
          {last.label}
        </text>
      ) : (
        ""
      )}
    </ChartFrame>
  );
}

/** One labelled horizontal bar per point (providers), longest first as given. */
export function BarChart(props: ChartProps): JSX.Element {
  const row = 34;
  const height = Math.max(1, props.points.length) * row;
  const max = Math.max(0, ...props.points.map((point) => point.value));
  return (
    <ChartFrame {...props} height={height}>
      {props.points.map((point, index) => {
        const y = index * row;
        const width = max > 0 ? Math.max(point.value > 0 ? 1 : 0, (point.value / max) * WIDTH) : 0;
        return (
          <g>
            <text class="chart-label" x="0" y={y + 11} safe>
              {`${point.label} · ${point.text}`}
            </text>
            <rect class="bar" x="0" y={y + 15} width={width.toFixed(2)} height="12">
              <title safe>{`${point.label}: ${point.text}`}</title>
            </rect>
          </g>
        );
      })}
    </ChartFrame>
  );
}
