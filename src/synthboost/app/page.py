"""The browser app's single page (HTML, CSS and plain JavaScript; no external resources)."""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>synthboost: text-prompted echo segmentation</title>
<style>
body{font-family:sans-serif;max-width:1100px;margin:1.5em auto;color:#222}
fieldset{margin:0 0 1em 0;border:1px solid #ccc}label{margin-right:1em}
input[type=text]{width:100%;box-sizing:border-box}img{max-width:100%;border:1px solid #ddd}
.grid{display:grid;grid-template-columns:repeat(4,1fr);gap:8px}.error{color:#b00020}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
</style>
</head>
<body>
<h1>synthboost</h1>
<p>Segment an apical echocardiogram with a vision-language model and a text prompt.
Research software: not for clinical use.</p>

<form id="seg-form">
<fieldset><legend>Image</legend>
<label>Upload (PNG, JPEG, NIfTI; max 20 MB) <input type="file" id="image" name="image"></label>
<label>or a phantom case <select id="case" name="case"><option value="">-</option></select></label><br>
<label>pixel spacing (mm) row <input id="sr" name="spacing_row_mm" size="5"></label>
<label>col <input id="sc" name="spacing_col_mm" size="5"></label>
</fieldset>
<fieldset><legend>Prompt</legend>
<label>structure <select id="structure" name="structure"></select></label>
<label>view <select id="view" name="view"></select></label>
<label>phase <select id="phase" name="phase"></select></label>
<label>sex <select id="sex" name="sex"></select></label>
<label>age <input id="age" name="age" size="4"></label>
<label>quality <select id="quality" name="quality"></select></label>
<p><input type="text" id="prompt" name="prompt" placeholder="prompt (built from the pickers, or type your own)"></p>
<label>threshold <input id="threshold" name="threshold" value="0.5" size="4"></label>
<button type="submit" id="run">Segment</button>
</fieldset>
</form>
<p id="seg-error" class="error"></p>
<div id="result" hidden><img id="overlay" alt="overlay"><p id="area"></p><p id="used"></p></div>

<h2>Ejection fraction (four views)</h2>
<form id="vol-form">
<label>phantom patient <select id="patient" name="patient"><option value="">-</option></select></label>
<span>or upload 2CH ED <input type="file" name="2CH_ED"> 2CH ES <input type="file" name="2CH_ES">
4CH ED <input type="file" name="4CH_ED"> 4CH ES <input type="file" name="4CH_ES"></span>
<button type="submit" id="run-vol">Compute EDV, ESV, EF</button>
</form>
<p id="vol-error" class="error"></p>
<div id="volumes" hidden><table><tr><th></th><th>EDV (mL)</th><th>ESV (mL)</th><th>EF (%)</th></tr>
<tr><th>model</th><td id="edv"></td><td id="esv"></td><td id="ef"></td></tr>
<tr><th>reference</th><td id="redv"></td><td id="resv"></td><td id="ref"></td></tr></table>
<div class="grid" id="views"></div></div>

<script>
const $ = (id) => document.getElementById(id);
function fill(sel, values, blank) {
  const opts = Array.isArray(values) ? values.map((v) => [v, v]) : Object.entries(values);
  sel.innerHTML = (blank ? '<option value="">-</option>' : '') +
    opts.map(([v, t]) => `<option value="${v}">${t}</option>`).join('');
}
const fmt = (v) => (v === null || v === undefined ? '-' : Number(v).toFixed(1));
async function post(url, body) {
  const r = await fetch(url, {method: 'POST', body});
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}
async function updatePrompt() {
  const attrs = {};
  for (const k of ['structure', 'view', 'phase', 'sex', 'age', 'quality']) attrs[k] = $(k).value;
  try { $('prompt').value = (await post('/api/prompt', JSON.stringify(attrs))).prompt; $('seg-error').textContent = ''; }
  catch (e) { $('seg-error').textContent = e.message; }
}
async function init() {
  const info = await (await fetch('/api/info')).json();
  fill($('structure'), info.structures, false); fill($('view'), info.views, true);
  fill($('phase'), info.phases, true); fill($('sex'), info.sexes, true); fill($('quality'), info.qualities, true);
  for (const c of info.cases) $('case').add(new Option(c.id, c.id));
  for (const p of info.patients) $('patient').add(new Option(p, p));
  $('threshold').value = info.threshold;
  $('case').addEventListener('change', () => {
    const c = info.cases.find((x) => x.id === $('case').value);
    if (!c) return;
    for (const k of ['view', 'phase', 'sex', 'age', 'quality']) $(k).value = c[k] ?? '';
    updatePrompt();
  });
  for (const k of ['structure', 'view', 'phase', 'sex', 'age', 'quality']) $(k).addEventListener('change', updatePrompt);
  updatePrompt();
}
$('seg-form').addEventListener('submit', async (ev) => {
  ev.preventDefault(); $('seg-error').textContent = ''; $('run').disabled = true;
  try {
    const d = await post('/api/segment', new FormData($('seg-form')));
    $('overlay').src = 'data:image/png;base64,' + d.overlay;
    $('area').textContent = `area: ${d.area.toFixed(1)} ${d.unit}`;
    $('used').textContent = `prompt: "${d.prompt}"`; $('result').hidden = false;
  } catch (e) { $('seg-error').textContent = e.message; }
  $('run').disabled = false;
});
$('vol-form').addEventListener('submit', async (ev) => {
  ev.preventDefault(); $('vol-error').textContent = ''; $('run-vol').disabled = true;
  try {
    const fd = new FormData($('vol-form'));
    for (const k of ['sex', 'age', 'quality', 'spacing_row_mm', 'spacing_col_mm']) fd.append(k, $(k === 'spacing_row_mm' ? 'sr' : k === 'spacing_col_mm' ? 'sc' : k).value);
    const d = await post('/api/volumes', fd);
    $('edv').textContent = fmt(d.edv); $('esv').textContent = fmt(d.esv); $('ef').textContent = fmt(d.ef);
    const r = d.reference || {};
    $('redv').textContent = fmt(r.edv); $('resv').textContent = fmt(r.esv); $('ref').textContent = fmt(r.ef);
    $('views').innerHTML = Object.entries(d.overlays).map(([k, v]) =>
      `<figure><img alt="${k}" src="data:image/png;base64,${v}"><figcaption>${k}</figcaption></figure>`).join('');
    if (d.errors.length) $('vol-error').textContent = d.errors.join('; ');
    $('volumes').hidden = false;
  } catch (e) { $('vol-error').textContent = e.message; }
  $('run-vol').disabled = false;
});
init();
</script>
</body>
</html>
"""
