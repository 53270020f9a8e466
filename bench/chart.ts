/**
 * A small hand-written SVG line chart: one or more series of (x, y) points, x on a log scale
 * (bundle sizes grow tenfold), y linear from zero. No dependency; the markup is plain enough
 * to diff.
 */
export interface ChartSeries {
  label: string;
  color: string;
  points: { x: number; y: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  width?: number;
  height?: number;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** 1, 2, 5 × 10^k steps: the "nice" tick spacing for a range from 0 to `max`. */
function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

const formatNumber = (value: number) => value.toLocaleString('en-US', { maximumFractionDigits: value < 10 ? 1 : 0 });

export function lineChartSvg(options: ChartOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const margin = { top: 40, right: 24, bottom: 52, left: 68 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const points = options.series.flatMap((s) => s.points).filter((p) => p.x > 0 && Number.isFinite(p.y));
  if (points.length === 0) throw new Error('a chart needs at least one point');

  const xs = points.map((p) => p.x);
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  // Half a decade of room either side of a single size, a tenth of the span otherwise: no point sits on an axis.
  const pad = xMin === xMax ? 0.5 : (Math.log10(xMax) - Math.log10(xMin)) / 10;
  const [logMin, logMax] = [Math.log10(xMin) - pad, Math.log10(xMax) + pad];
  const xAt = (x: number) => margin.left + ((Math.log10(x) - logMin) / (logMax - logMin)) * plotWidth;
  const step = niceStep(Math.max(...points.map((p) => p.y)) || 1, 5);
  const yTop = Math.ceil((Math.max(...points.map((p) => p.y)) || 1) / step) * step;
  const yAt = (y: number) => margin.top + plotHeight - (y / yTop) * plotHeight;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  for (let y = 0; y <= yTop + step / 2; y += step) {
    const py = yAt(y).toFixed(1);
    parts.push(
      `<line x1="${margin.left}" y1="${py}" x2="${width - margin.right}" y2="${py}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 8}" y="${py}" text-anchor="end" dominant-baseline="middle" fill="#555">${formatNumber(y)}</text>`,
    );
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    const px = xAt(x).toFixed(1);
    parts.push(
      `<line x1="${px}" y1="${margin.top}" x2="${px}" y2="${margin.top + plotHeight}" stroke="#f0f0f0"/>`,
      `<text x="${px}" y="${margin.top + plotHeight + 18}" text-anchor="middle" fill="#555">${formatNumber(x)}</text>`,
    );
  }
  parts.push(
    `<line x1="${margin.left}" y1="${margin.top + plotHeight}" x2="${width - margin.right}" y2="${margin.top + plotHeight}" stroke="#333"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotHeight}" stroke="#333"/>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(18 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  options.series.forEach((series, s) => {
    const sorted = [...series.points].filter((p) => p.x > 0 && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (sorted.length > 1) {
      parts.push(
        `<polyline fill="none" stroke="${series.color}" stroke-width="2" points="${sorted.map((p) => `${xAt(p.x).toFixed(1)},${yAt(p.y).toFixed(1)}`).join(' ')}"/>`,
      );
    }
    for (const p of sorted) {
      const [px, py] = [xAt(p.x).toFixed(1), yAt(p.y).toFixed(1)];
      parts.push(
        `<circle cx="${px}" cy="${py}" r="4" fill="${series.color}"/>`,
        `<text x="${px}" y="${(yAt(p.y) - 9).toFixed(1)}" text-anchor="middle" fill="${series.color}">${formatNumber(p.y)}</text>`,
      );
    }
    const ly = margin.top + 4 + s * 16;
    parts.push(
      `<rect x="${width - margin.right - 170}" y="${ly - 8}" width="10" height="10" fill="${series.color}"/>`,
      `<text x="${width - margin.right - 154}" y="${ly}" dominant-baseline="middle">${escapeXml(series.label)}</text>`,
    );
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
