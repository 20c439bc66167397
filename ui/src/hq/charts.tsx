// Simple charts drawn as inline SVG: nothing fetched, no chart library. In Arabic the time axis
// runs right to left (the oldest month on the right), as the page reads.
import { useHq } from "./i18n";

export type Bar = { label: string; value: number; tone?: string };

/** Horizontal bars with their labels and values (a funnel, a distribution). */
export function Bars({ bars, testid, unit = "" }: { bars: Bar[]; testid?: string; unit?: string }) {
  const { lang } = useHq();
  const max = Math.max(1, ...bars.map((b) => b.value));
  const rowH = 26;
  const labelW = 190;
  const barW = 320;
  const w = labelW + barW + 70;
  const rtl = lang === "ar";
  return (
    // The SVG's own direction is ltr so that x and text-anchor are physical; Arabic labels are
    // still shaped and ordered by the bidi algorithm inside each <text>.
    <svg className="chart" role="img" data-testid={testid} viewBox={`0 0 ${w} ${bars.length * rowH + 4}`} width="100%" style={{ maxWidth: w, direction: "ltr" }}>
      {bars.map((b, i) => {
        const len = Math.round((b.value / max) * barW);
        const y = i * rowH + 2;
        const labelX = rtl ? w - 4 : 4;
        const barX = rtl ? w - labelW - len : labelW;
        const valueX = rtl ? w - labelW - len - 6 : labelW + len + 6;
        return (
          <g key={i}>
            <text x={labelX} y={y + 17} textAnchor={rtl ? "end" : "start"} className="chart-label">{b.label}</text>
            <rect x={barX} y={y + 4} width={Math.max(len, 1)} height={rowH - 8} rx={3} className={`bar ${b.tone ?? ""}`} />
            <text x={valueX} y={y + 17} textAnchor={rtl ? "end" : "start"} className="chart-value">
              {b.value.toLocaleString("en")}{unit}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

/** Columns over time (months), with an optional line of a second measure (0..lineMax). */
export function Columns({ points, testid, line, lineMax = 5 }: { points: { label: string; value: number }[]; testid?: string; line?: (number | null)[]; lineMax?: number }) {
  const { lang } = useHq();
  const rtl = lang === "ar";
  const h = 180;
  const pad = 24;
  const colW = 34;
  const w = Math.max(220, points.length * colW + 2 * pad);
  const max = Math.max(1, ...points.map((p) => p.value));
  const x = (i: number) => {
    const left = pad + i * colW + 4;
    return rtl ? w - left - (colW - 8) : left;
  };
  const path = line
    ?.map((v, i) => (v === null ? null : `${x(i) + (colW - 8) / 2},${h - pad - (v / lineMax) * (h - 2 * pad)}`))
    .filter(Boolean)
    .join(" ");
  return (
    <svg className="chart" role="img" data-testid={testid} viewBox={`0 0 ${w} ${h}`} width="100%" style={{ maxWidth: w, direction: "ltr" }}>
      <line x1={pad / 2} x2={w - pad / 2} y1={h - pad} y2={h - pad} className="axis" />
      {points.map((p, i) => {
        const ph = line ? 0 : Math.round((p.value / max) * (h - 2 * pad));
        return (
          <g key={i}>
            {!line && <rect x={x(i)} y={h - pad - ph} width={colW - 8} height={Math.max(ph, 1)} rx={2} className="bar" />}
            {!line && (
              <text x={x(i) + (colW - 8) / 2} y={h - pad - ph - 4} textAnchor="middle" className="chart-value">
                {p.value}
              </text>
            )}
            <text x={x(i) + (colW - 8) / 2} y={h - 6} textAnchor="middle" className="chart-tick">
              {p.label}
            </text>
          </g>
        );
      })}
      {path && <polyline points={path} className="line" fill="none" />}
      {line?.map((v, i) =>
        v === null ? null : (
          <g key={`d${i}`}>
            <circle cx={x(i) + (colW - 8) / 2} cy={h - pad - (v / lineMax) * (h - 2 * pad)} r={3} className="dot" />
            <text x={x(i) + (colW - 8) / 2} y={h - pad - (v / lineMax) * (h - 2 * pad) - 7} textAnchor="middle" className="chart-value">
              {v.toFixed(1)}
            </text>
          </g>
        ),
      )}
    </svg>
  );
}
