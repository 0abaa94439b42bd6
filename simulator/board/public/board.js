// The board page: controls post sensor values, the SSE stream paints the node's state.
const $ = (id) => document.getElementById(id);
const post = (path, body) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

for (const name of ['temperature', 'humidity']) {
  $(name).addEventListener('input', (e) => {
    $(`${name}-value`).textContent = e.target.value;
    void post('/api/sensors', { [name]: Number(e.target.value) });
  });
}
// wokwi-potentiometer emits 'input' with the new value (0..100) when turned.
$('pot').addEventListener('input', (e) => {
  const value = Number($('pot').value);
  $('pot-value').textContent = String(value);
  void post('/api/sensors', { pot: value });
});

let wifiOn = true;
$('wifi-toggle').addEventListener('click', () => void post('/api/wifi', { on: !wifiOn }));

function setState(el, on, onText, offText) {
  el.textContent = on ? onText : offText;
  el.className = `state ${on ? 'on' : 'off'}`;
}

function paint(s) {
  wifiOn = s.wifi;
  $('device').textContent = `${s.device} (boot ${s.boot})`;
  $('settings').textContent = `interval ${s.settings.intervalMs} ms, batch ${s.settings.batchSize}`;
  $('led-wifi').value = s.wifi;
  $('led-mqtt').value = s.mqtt;
  setState($('wifi-state'), s.wifi, 'up', 'down');
  setState($('mqtt-state'), s.mqtt, 'connected', 'disconnected');
  $('wifi-toggle').textContent = s.wifi ? 'Drop Wi-Fi' : 'Restore Wi-Fi';
  $('acked').textContent = String(s.acked);
  if (s.lastBatch) {
    $('batch-seq').textContent = String(s.lastBatch.seq);
    // Last value per sensor in the batch.
    const last = new Map(s.lastBatch.readings.map((r) => [r.sensor, r.value]));
    $('batch').replaceChildren(...[...last].map(([sensor, value]) => {
      const tr = document.createElement('tr');
      tr.dataset.sensor = sensor;
      tr.innerHTML = `<td></td><td class="value"></td>`;
      tr.children[0].textContent = sensor;
      tr.children[1].textContent = String(value);
      return tr;
    }));
  }
  if (s.commands.length) {
    $('commands').replaceChildren(...s.commands.map((c) => {
      const li = document.createElement('li');
      li.textContent = `${c.at.slice(11, 19)}  #${c.id} ${c.op}${c.arg ? ` ${c.arg}` : ''}`;
      return li;
    }));
  }
}

const events = new EventSource('/events');
events.onmessage = (m) => paint(JSON.parse(m.data));
