/* nlmg-media player: custom controls over one <audio>, chapters that seek, a follow-along transcript.
 *
 * Markup contract (written by pipeline/publishing/site.py), inside one [data-episode] element:
 *   [data-player] holding <audio>, buttons [data-action=play|back|forward|speed|share] and input[type=range];
 *   [data-chapter-list] buttons with data-start (seconds); [data-transcript] word spans with data-s / data-e.
 * The word whose [start, end) interval contains the current time carries aria-current="true"; its sentence
 * the class "reading". Deep links: #t=1:23 (or #t=83) set the start position. No dependencies, no build.
 */
(function () {
  'use strict';

  var SPEEDS = [1, 1.25, 1.5, 1.75, 2, 0.75];

  function clock(seconds) {
    var total = Math.max(0, Math.floor(seconds || 0));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var ss = (s < 10 ? '0' : '') + s;
    if (h) return h + ':' + (m < 10 ? '0' : '') + m + ':' + ss;
    return m + ':' + ss;
  }

  // "1:23", "1:02:03", "83", "83.5" → seconds; anything else → null.
  function parseClock(text) {
    if (!/^\d+(:\d{1,2}){0,2}(\.\d+)?$/.test(text)) return null;
    return text.split(':').reduce(function (sum, part) { return sum * 60 + parseFloat(part); }, 0);
  }

  function hashTime() {
    var match = /(?:^#|&)t=([^&]+)/.exec(window.location.hash);
    return match ? parseClock(decodeURIComponent(match[1])) : null;
  }

  // Index of the last value <= t in an ascending array, or -1.
  function lastAtOrBefore(values, t) {
    var lo = 0, hi = values.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (values[mid] <= t) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).then(function () { return true; }, function () { return false; });
    }
    return Promise.resolve(false);
  }

  function setupCopyButtons() {
    document.querySelectorAll('[data-copy]').forEach(function (button) {
      button.addEventListener('click', function () {
        var status = document.getElementById(button.getAttribute('aria-describedby') || '');
        var text = button.dataset.copy;
        copyText(text).then(function (ok) {
          if (status) status.textContent = ok ? 'Copied: ' + text : 'Copy this address: ' + text;
        });
      });
    });
  }

  function setupEpisode(episode, isFirst) {
    var root = episode.querySelector('[data-player]');
    if (!root) return;
    var audio = root.querySelector('audio');
    var playButton = root.querySelector('[data-action=play]');
    var speedButton = root.querySelector('[data-action=speed]');
    var shareButton = root.querySelector('[data-action=share]');
    var status = root.querySelector('[data-status]');
    var bar = root.querySelector('input[type=range]');
    var elapsed = root.querySelector('[data-elapsed]');
    var total = root.querySelector('[data-total]');
    var chapterLabel = root.querySelector('[data-chapter-now]');
    var chapterButtons = Array.prototype.slice.call(episode.querySelectorAll('[data-chapter-list] [data-start]'));
    var chapterStarts = chapterButtons.map(function (b) { return parseFloat(b.dataset.start); });
    var transcript = episode.querySelector('[data-transcript]');
    var words = transcript ? Array.prototype.slice.call(transcript.querySelectorAll('[data-s]')) : [];
    var wordStarts = words.map(function (w) { return parseFloat(w.dataset.s); });
    var wordEnds = words.map(function (w) { return parseFloat(w.dataset.e); });
    var follow = episode.querySelector('[data-follow]');
    var currentWord = -1, currentChapter = -2, userScrolledAt = 0, dragging = false, frame = 0;

    root.classList.add('ready');  // controls are hidden until the script runs (no script: native controls)
    audio.removeAttribute('controls');

    function duration() {
      return isFinite(audio.duration) && audio.duration > 0 ? audio.duration : parseFloat(root.dataset.duration) || 0;
    }

    // Before the metadata is loaded, setting currentTime sets the default playback start position (HTML spec),
    // so a deep link or chapter click works at once and the first Play starts there.
    function seek(seconds, play) {
      var d = duration();
      var t = Math.max(0, d ? Math.min(seconds, d) : seconds);
      audio.currentTime = t;
      update(t);
      if (play) start();
    }

    function start() {
      var promise = audio.play();
      if (promise && promise.catch) promise.catch(function () { /* autoplay refused: the button still shows Play */ });
    }

    function now() {
      return audio.currentTime;
    }

    function showWord(t) {
      if (!words.length) return;
      var i = lastAtOrBefore(wordStarts, t);
      var index = i >= 0 && t < wordEnds[i] ? i : -1;
      if (index === currentWord) return;
      if (currentWord >= 0) {
        words[currentWord].removeAttribute('aria-current');
        var oldSentence = words[currentWord].parentElement;
        if (oldSentence) oldSentence.classList.remove('reading');
      }
      currentWord = index;
      if (index < 0) return;
      var word = words[index];
      word.setAttribute('aria-current', 'true');
      if (word.parentElement) word.parentElement.classList.add('reading');
      if (follow && follow.checked && Date.now() - userScrolledAt > 4000) keepInView(word);
    }

    // The transcript box is positioned (CSS), so a word's offsetTop is measured from the box's top.
    function keepInView(word) {
      var box = transcript;
      var top = word.offsetTop;
      var view = box.clientHeight;
      if (top < box.scrollTop + view * 0.2 || top > box.scrollTop + view * 0.7) {
        box.scrollTo({ top: Math.max(0, top - view * 0.35), behavior: 'smooth' });
      }
    }

    function showChapter(t) {
      var index = lastAtOrBefore(chapterStarts, t + 0.05);
      if (index === currentChapter) return;
      currentChapter = index;
      chapterButtons.forEach(function (b, i) {
        if (i === index) b.setAttribute('aria-current', 'true'); else b.removeAttribute('aria-current');
      });
      if (chapterLabel) {
        chapterLabel.textContent = index >= 0
          ? 'Chapter ' + (index + 1) + ' of ' + chapterButtons.length + ': ' + chapterButtons[index].dataset.title
          : '';
      }
    }

    function update(t) {
      if (t === undefined) t = now();
      var d = duration();
      if (!dragging) {
        bar.max = String(Math.max(d, 1));
        bar.value = String(t);
      }
      bar.setAttribute('aria-valuetext', clock(t) + ' of ' + clock(d));
      elapsed.textContent = clock(t);
      total.textContent = clock(d);
      if (shareButton) shareButton.querySelector('[data-share-time]').textContent = clock(t);
      showChapter(t);
      showWord(t);
    }

    function tick() {
      update();
      frame = audio.paused ? 0 : window.requestAnimationFrame(tick);
    }

    audio.addEventListener('play', function () {
      playButton.querySelector('[data-label]').textContent = 'Pause';
      playButton.querySelector('[data-icon]').textContent = '\u275A\u275A';
      if (!frame) frame = window.requestAnimationFrame(tick);
    });
    audio.addEventListener('pause', function () {
      playButton.querySelector('[data-label]').textContent = 'Play';
      playButton.querySelector('[data-icon]').textContent = '\u25B6';
      update();
    });
    ['timeupdate', 'seeked', 'loadedmetadata', 'durationchange'].forEach(function (name) {
      audio.addEventListener(name, function () { update(); });
    });

    playButton.addEventListener('click', function () { if (audio.paused) start(); else audio.pause(); });
    root.querySelector('[data-action=back]').addEventListener('click', function () { seek(now() - 15); });
    root.querySelector('[data-action=forward]').addEventListener('click', function () { seek(now() + 30); });
    speedButton.addEventListener('click', function () {
      var next = SPEEDS[(SPEEDS.indexOf(audio.playbackRate) + 1) % SPEEDS.length] || 1;
      audio.playbackRate = next;
      speedButton.querySelector('[data-label]').textContent = next + '×';
    });
    bar.addEventListener('input', function () {
      dragging = true;
      elapsed.textContent = clock(parseFloat(bar.value));
    });
    bar.addEventListener('change', function () {
      dragging = false;
      seek(parseFloat(bar.value));
    });
    if (shareButton) {
      shareButton.addEventListener('click', function () {
        var link = window.location.href.split('#')[0] + '#t=' + clock(now());
        copyText(link).then(function (ok) { status.textContent = (ok ? 'Link copied: ' : 'Link: ') + link; });
      });
    }
    chapterButtons.forEach(function (button) {
      button.addEventListener('click', function () { seek(parseFloat(button.dataset.start), true); });
    });
    if (transcript) {
      transcript.addEventListener('click', function (event) {
        var word = event.target.closest('[data-s]');
        if (word) seek(parseFloat(word.dataset.s), true);
      });
      ['wheel', 'touchmove', 'keydown'].forEach(function (name) {
        transcript.addEventListener(name, function () { userScrolledAt = Date.now(); }, { passive: true });
      });
    }
    // Space / K play-pause, J or ← back 15 s, L or → forward 30 s — unless a control has the focus.
    if (isFirst) {
      document.addEventListener('keydown', function (event) {
        var target = event.target;
        if (event.altKey || event.ctrlKey || event.metaKey) return;
        if (target.closest && target.closest('button, a, input, select, textarea, [contenteditable], summary')) return;
        var key = event.key;
        if (key === ' ' || key === 'k') { event.preventDefault(); playButton.click(); }
        else if (key === 'j' || key === 'ArrowLeft') { seek(now() - 15); }
        else if (key === 'l' || key === 'ArrowRight') { seek(now() + 30); }
      });
      var fromHash = hashTime();
      if (fromHash !== null) seek(fromHash);
      window.addEventListener('hashchange', function () {
        var t = hashTime();
        if (t !== null) seek(t);
      });
    }
    update(now());
  }

  var episodes = document.querySelectorAll('[data-episode]');
  Array.prototype.forEach.call(episodes, function (episode, i) { setupEpisode(episode, i === 0); });
  setupCopyButtons();
})();
