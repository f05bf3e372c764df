// A scene as an SVG document (pure string building); generate.ts rasterises it with sharp.
import type { Background, Scene, Shape, ShapeColour } from './scene.js';

// Distinct hues that stay distinct after downscaling; named colours would vary by renderer.
const COLOUR_HEX: Record<ShapeColour, string> = {
  red: '#d62728',
  yellow: '#f2d50f',
  green: '#2ca02c',
  blue: '#1f5fd6',
  purple: '#8e3fb0',
};
/** Each background is a gradient between two close shades, so backgrounds vary but keep their name. */
const BACKGROUND_HEX: Record<Background, [string, string]> = {
  white: ['#ffffff', '#e4e4e4'],
  gray: ['#cfcfcf', '#b4b4b4'],
  beige: ['#f3e9d2', '#e2d3b0'],
};

function polygonPoints(cx: number, cy: number, radii: number[], rotationDeg: number): string {
  const steps = radii.length;
  const points: string[] = [];
  for (let i = 0; i < steps; i++) {
    // Start straight up so an unrotated triangle stands on its base.
    const angle = ((rotationDeg - 90 + (360 * i) / steps) * Math.PI) / 180;
    const r = radii[i] as number;
    points.push(`${(cx + r * Math.cos(angle)).toFixed(2)},${(cy + r * Math.sin(angle)).toFixed(2)}`);
  }
  return points.join(' ');
}

function shapeSvg(s: Shape): string {
  const fill = COLOUR_HEX[s.colour];
  switch (s.kind) {
    case 'circle':
      return `<circle cx="${s.cx.toFixed(2)}" cy="${s.cy.toFixed(2)}" r="${(s.radius * 0.9).toFixed(2)}" fill="${fill}"/>`;
    case 'square':
      // Square inscribed in the radius circle, so sizes compare fairly across kinds.
      return `<polygon points="${polygonPoints(s.cx, s.cy, [s.radius, s.radius, s.radius, s.radius], s.rotationDeg + 45)}" fill="${fill}"/>`;
    case 'triangle':
      return `<polygon points="${polygonPoints(s.cx, s.cy + s.radius * 0.2, [s.radius, s.radius, s.radius], s.rotationDeg)}" fill="${fill}"/>`;
  }
}

export function sceneToSvg(scene: Scene): string {
  const [from, to] = BACKGROUND_HEX[scene.background];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${scene.widthPx}" height="${scene.heightPx}">`,
    `<defs><linearGradient id="bg" gradientTransform="rotate(${scene.gradientAngleDeg} 0.5 0.5)">`,
    `<stop offset="0" stop-color="${from}"/><stop offset="1" stop-color="${to}"/></linearGradient></defs>`,
    `<rect width="100%" height="100%" fill="url(#bg)"/>`,
    ...scene.shapes.map(shapeSvg),
    '</svg>',
  ].join('');
}
