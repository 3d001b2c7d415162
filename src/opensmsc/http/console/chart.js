// The overview's rate chart: messages/s in and out over the last hour, drawn on a <canvas>.
// It only draws what it is given (history points, then one live point a second); it fetches
// nothing and knows nothing of the status document.

const WINDOW_MS = 60 * 60 * 1000;
const COLOURS = { in_per_s: "#1d4ed8", out_per_s: "#15803d" };

export class RateChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.points = []; // {at: ms since epoch, in_per_s, out_per_s}, oldest first
  }

  setPoints(points) {
    this.points = points
      .map((p) => ({ at: Date.parse(p.at), in_per_s: p.in_per_s, out_per_s: p.out_per_s }))
      .filter((p) => !Number.isNaN(p.at))
      .sort((a, b) => a.at - b.at);
    this.draw();
  }

  add(at, inPerS, outPerS) {
    const time = Date.parse(at);
    if (Number.isNaN(time)) return;
    this.points.push({ at: time, in_per_s: inPerS, out_per_s: outPerS });
    const oldest = time - WINDOW_MS;
    while (this.points.length && this.points[0].at < oldest) this.points.shift();
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    // Sized in device pixels each time: the page's width changes with the window.
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const left = 48, right = 8, top = 10, bottom = 22;
    const plotW = width - left - right, plotH = height - top - bottom;
    const end = this.points.length ? Math.max(Date.now(), this.points.at(-1).at) : Date.now();
    const start = end - WINDOW_MS;
    const peak = Math.max(1, ...this.points.map((p) => Math.max(p.in_per_s, p.out_per_s)));
    const scale = niceCeiling(peak);
    const x = (t) => left + ((t - start) / WINDOW_MS) * plotW;
    const y = (v) => top + plotH - (v / scale) * plotH;

    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#667085";
    ctx.strokeStyle = "#eaecf0";
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const value = (scale * i) / 4;
      const yy = Math.round(y(value)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, yy); ctx.lineTo(width - right, yy); ctx.stroke();
      ctx.textAlign = "right"; ctx.textBaseline = "middle";
      ctx.fillText(formatRate(value), left - 6, yy);
    }
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (let minutes = 60; minutes >= 0; minutes -= 10) {
      const xx = x(end - minutes * 60000);
      ctx.textAlign = minutes ? "center" : "right"; // "now" inside the canvas, not cut at its edge
      ctx.fillText(minutes ? `-${minutes} min` : "now", xx, height - bottom + 6);
    }

    for (const key of ["in_per_s", "out_per_s"]) {
      ctx.strokeStyle = COLOURS[key];
      ctx.lineWidth = 1.5;
      // Out is dashed over in: when every message goes out as it comes in, both still show.
      ctx.setLineDash(key === "out_per_s" ? [5, 4] : []);
      ctx.beginPath();
      let started = false;
      for (const p of this.points) {
        if (p.at < start) continue;
        if (started) ctx.lineTo(x(p.at), y(p[key]));
        else { ctx.moveTo(x(p.at), y(p[key])); started = true; }
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }
}

function niceCeiling(value) {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

export function formatRate(value) {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}
