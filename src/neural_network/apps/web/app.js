// The demo page: draw on #pad, send the drawing to /api/predict, show the answer.
//
// The page crops the drawing to its ink and averages it down to 28x28 grey values
// (0-255, white ink on black). The server makes that MNIST-like (bounding box scaled to
// 20x20, centre of mass at the centre), runs the network and sends back the label, the
// ten probabilities and the 28x28 image it used, which the page shows as it is.
"use strict";

(() => {
  const FIELD = 28;
  const THROTTLE_MS = 100; // at most one request per this many ms while drawing
  const STROKE_FRACTION = 0.08; // pen width as a fraction of the pad's side

  const pad = document.getElementById("pad");
  const context = pad.getContext("2d", { willReadFrequently: true });
  const seen = document.getElementById("seen").getContext("2d");
  const labelOutput = document.getElementById("label");
  const confidence = document.getElementById("confidence");
  const statusLine = document.getElementById("status");
  const bars = [];

  for (let digit = 0; digit < 10; digit += 1) {
    const item = document.createElement("li");
    item.dataset.p = "0";
    const name = document.createElement("span");
    name.textContent = String(digit);
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.display = "block";
    track.append(fill);
    const percent = document.createElement("span");
    percent.className = "percent";
    percent.textContent = "–";
    item.append(name, track, percent);
    document.getElementById("bars").append(item);
    bars.push({ item, fill, percent });
  }

  // Drawing

  let activePointer = null;
  let last = null;

  function pointOf(event) {
    const box = pad.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) * pad.width) / box.width,
      y: ((event.clientY - box.top) * pad.height) / box.height,
    };
  }

  function strokeTo(point) {
    context.beginPath();
    context.moveTo(last.x, last.y);
    context.lineTo(point.x, point.y);
    context.stroke();
    last = point;
  }

  function resetPad() {
    context.fillStyle = "#000";
    context.fillRect(0, 0, pad.width, pad.height);
    context.strokeStyle = "#fff";
    context.lineWidth = pad.width * STROKE_FRACTION;
    context.lineCap = "round";
    context.lineJoin = "round";
  }

  pad.addEventListener("pointerdown", (event) => {
    if (activePointer !== null || (event.pointerType === "mouse" && event.button !== 0)) {
      return;
    }
    event.preventDefault();
    activePointer = event.pointerId;
    pad.setPointerCapture(event.pointerId);
    last = pointOf(event);
    strokeTo({ x: last.x + 0.01, y: last.y }); // a dot, for a tap without a move
    schedule();
  });

  pad.addEventListener("pointermove", (event) => {
    if (event.pointerId !== activePointer) {
      return;
    }
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const each of events.length ? events : [event]) {
      strokeTo(pointOf(each));
    }
    schedule();
  });

  function endStroke(event) {
    if (event.pointerId !== activePointer) {
      return;
    }
    activePointer = null;
    flush();
  }
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  // The 28x28 values sent to the server: the ink's square bounding box, each cell the mean
  // of k x k samples. Returns null for a blank pad.
  function drawingPixels() {
    const { width, height } = pad;
    const rgba = context.getImageData(0, 0, width, height).data;
    let top = height;
    let bottom = -1;
    let left = width;
    let right = -1;
    for (let y = 0; y < height; y += 1) {
      for (let x = 0; x < width; x += 1) {
        if (rgba[4 * (y * width + x)] > 0) {
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
          left = Math.min(left, x);
          right = Math.max(right, x);
        }
      }
    }
    if (bottom < 0) {
      return null;
    }
    const side = Math.max(bottom - top, right - left) + 1;
    const x0 = (left + right + 1) / 2 - side / 2;
    const y0 = (top + bottom + 1) / 2 - side / 2;
    const cell = side / FIELD;
    const k = Math.max(1, Math.ceil(cell));
    const pixels = new Array(FIELD * FIELD);
    for (let row = 0; row < FIELD; row += 1) {
      for (let col = 0; col < FIELD; col += 1) {
        let sum = 0;
        for (let i = 0; i < k; i += 1) {
          const y = Math.floor(y0 + (row + (i + 0.5) / k) * cell);
          for (let j = 0; j < k; j += 1) {
            const x = Math.floor(x0 + (col + (j + 0.5) / k) * cell);
            if (x >= 0 && x < width && y >= 0 && y < height) {
              sum += rgba[4 * (y * width + x)];
            }
          }
        }
        pixels[row * FIELD + col] = Math.round(sum / (k * k));
      }
    }
    return pixels;
  }

  // Asking the server: one request at a time, at most one per THROTTLE_MS while drawing,
  // and always one more after the last change.

  let inFlight = false;
  let wanted = false;
  let timer = null;
  let lastSent = -Infinity;
  let generation = 0; // bumped by Clear, so that a late answer is dropped

  function updatePending() {
    document.body.dataset.pending = inFlight || wanted || timer !== null ? "1" : "0";
  }

  function schedule() {
    wanted = true;
    if (!inFlight && timer === null) {
      const wait = Math.max(0, lastSent + THROTTLE_MS - performance.now());
      timer = setTimeout(() => {
        timer = null;
        send();
      }, wait);
    }
    updatePending();
  }

  function flush() {
    wanted = true;
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    if (!inFlight) {
      send();
    }
    updatePending();
  }

  async function send() {
    wanted = false;
    const pixels = drawingPixels();
    if (pixels === null) {
      updatePending();
      return;
    }
    const sent = generation;
    inFlight = true;
    lastSent = performance.now();
    updatePending();
    try {
      const response = await fetch("/api/predict", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ pixels }),
      });
      const answer = await response.json();
      if (sent === generation) {
        if (!response.ok) {
          throw new Error(answer.error || `${response.status} ${response.statusText}`);
        }
        showAnswer(answer);
      }
    } catch (error) {
      if (sent === generation) {
        statusLine.textContent = `No answer: ${error.message}`;
        statusLine.className = "error";
      }
    } finally {
      inFlight = false;
      if (wanted) {
        schedule();
      }
      updatePending();
    }
  }

  // Showing the answer

  function showAnswer(answer) {
    const probabilities = answer.probabilities;
    labelOutput.textContent = String(answer.label);
    confidence.textContent = `${(100 * probabilities[answer.label]).toFixed(1)}% sure`;
    probabilities.forEach((p, digit) => {
      const bar = bars[digit];
      bar.item.dataset.p = String(p);
      bar.item.classList.toggle("best", digit === answer.label);
      bar.fill.style.width = `${(100 * p).toFixed(1)}%`;
      bar.percent.textContent = `${(100 * p).toFixed(1)}%`;
    });
    const image = seen.createImageData(FIELD, FIELD);
    answer.image.forEach((value, index) => {
      image.data.set([value, value, value, 255], 4 * index);
    });
    seen.putImageData(image, 0, 0);
    statusLine.textContent = "Keep drawing, or clear and draw another.";
    statusLine.className = "";
    document.body.dataset.answers = String(Number(document.body.dataset.answers) + 1);
  }

  function clearAll() {
    generation += 1;
    wanted = false;
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    activePointer = null;
    resetPad();
    seen.fillStyle = "#000";
    seen.fillRect(0, 0, FIELD, FIELD);
    labelOutput.textContent = "?";
    confidence.textContent = "";
    for (const bar of bars) {
      bar.item.dataset.p = "0";
      bar.item.classList.remove("best");
      bar.fill.style.width = "0";
      bar.percent.textContent = "–";
    }
    statusLine.textContent = "Draw a digit in the black square.";
    statusLine.className = "";
    updatePending();
  }

  document.getElementById("clear").addEventListener("click", clearAll);
  clearAll();
})();
