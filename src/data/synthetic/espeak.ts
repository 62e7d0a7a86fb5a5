// espeak-ng inside this process: libespeak-ng called through koffi, giving the samples the espeak-ng program
// writes with `-w` for the same voice, speed, pitch, word gap and text, bit for bit (espeak.test.ts compares
// them). The program costs ~35 ms a call on this machine, most of it starting a process that links ~30
// libraries (PulseAudio, X11, D-Bus) and reading every voice file to find one; the speech tasks call it once per
// word in half their clips. In process a call measured ~7.5 ms: load 0.7, initialise 3.5, voice 2.6, speak 0.6.
//
// libespeak-ng keeps state between utterances in static variables (wavegen's phase and filters, the voice list),
// so a second utterance in one process differs from what a fresh process speaks (measured: "zero" in en+m7 at
// 208 wpm gave 14,271 samples, then 14,279, then 14,282), and espeak_Initialize does not reset it. What does:
// unloading the library and loading it afresh, which maps new copies of its statics. Its dependencies stay
// loaded (a handle is held on them), so a reload maps only libespeak-ng itself. libc's rand() (klatt.c and
// wavegen.c draw noise from it) belongs to the process, so it is reseeded as a fresh process has it.
//
// Choosing a voice by name reads every voice and language file (322 in Debian's espeak-ng-data; 5.9 ms). For
// English voices the library is pointed at a folder of links to the real data holding only the English language
// files and the variants (2.6 ms); the name then matches the same file, since every English file is there.
// Any other voice is looked up in the full data, as the program does.
import koffi from 'koffi';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { basename, join } from 'node:path';

/** espeak-ng's output rate. */
export const ESPEAK_RATE = 22050;

const LIBRARY = 'libespeak-ng.so.1';
const AUDIO_OUTPUT_SYNCHRONOUS = 2;
const INITIALIZE_DONT_EXIT = 0x8000;
const POS_CHARACTER = 1;
// The program's flags for text given on its command line: espeakCHARS_AUTO | espeakPHONEMES | espeakENDPAUSE.
const SYNTH_FLAGS = 0x0100 | 0x1000;
const PARAM_RATE = 1;
const PARAM_PITCH = 3;
const PARAM_WORDGAP = 7;

type Lib = ReturnType<typeof koffi.load>;

/** The functions used, bound to one load of the library. */
function bind(lib: Lib) {
  return {
    initialize: lib.func('int espeak_Initialize(int, int, const char *, int)') as (output: number, buflength: number, path: string | null, options: number) => number,
    info: lib.func('const char *espeak_Info(_Out_ const char **path)') as (path: [string | null]) => string,
    setCallback: lib.func('void espeak_SetSynthCallback(tessera_espeak_cb *cb)') as (cb: unknown) => void,
    setVoiceByName: lib.func('int espeak_SetVoiceByName(const char *)') as (name: string) => number,
    setParameter: lib.func('int espeak_SetParameter(int, int, int)') as (parameter: number, value: number, relative: number) => number,
    synth: lib.func('int espeak_Synth(const void *, size_t, unsigned int, int, unsigned int, unsigned int, void *, void *)') as (...a: unknown[]) => number,
    terminate: lib.func('int espeak_Terminate(void)') as () => number,
  };
}

interface Espeak {
  readonly srand: (seed: number) => void;
  readonly callback: unknown;
  /** Folder holding an espeak-ng-data of links with only the English language files, and their names. */
  readonly english: { readonly home: string; readonly names: ReadonlySet<string> } | null;
}

/** Samples of the utterance being spoken, as the callback hands them over. */
let chunks: Int16Array[] = [];
let state: Espeak | null | undefined;

/** Every file under dir, as paths relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
}

/** <tmp>/espeak-ng-data: links to the data's top-level files, the English language files and voices/!v. */
function englishData(data: string): Espeak['english'] {
  const lang = join(data, 'lang');
  const english = filesUnder(lang).filter((f) => /^en(-|$)/i.test(basename(f)));
  if (english.length === 0) return null;
  const home = mkdtempSync(join(tmpdir(), 'tessera-espeak-'));
  process.once('exit', () => rmSync(home, { recursive: true, force: true }));
  const out = join(home, 'espeak-ng-data');
  mkdirSync(join(out, 'voices'), { recursive: true });
  for (const f of readdirSync(data)) if (statSync(join(data, f)).isFile()) symlinkSync(join(data, f), join(out, f));
  for (const f of english) {
    mkdirSync(join(out, 'lang', f, '..'), { recursive: true });
    symlinkSync(join(lang, f), join(out, 'lang', f));
  }
  symlinkSync(join(data, 'voices', '!v'), join(out, 'voices', '!v'));
  return { home, names: new Set(english.map((f) => basename(f).toLowerCase())) };
}

/**
 * The library, or null where koffi or libespeak-ng cannot be loaded (TESSERA_ESPEAK=program forces null), and
 * off the main thread: its statics belong to the process, so two threads would speak over each other.
 */
function library(): Espeak | null {
  if (state !== undefined) return state;
  state = null;
  if (process.env.TESSERA_ESPEAK === 'program' || !isMainThread) return state;
  try {
    const proto = koffi.proto('int tessera_espeak_cb(int16_t *wav, int numsamples, void *events)');
    const probe = koffi.load(LIBRARY);
    // keep what libespeak-ng links against, so that reloading it maps only itself
    for (const dep of ['libpcaudio.so.0', 'libsonic.so.0']) {
      try { koffi.load(dep); } catch { /* not a dependency on this system */ }
    }
    const f = bind(probe);
    const rate = f.initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, null, INITIALIZE_DONT_EXIT);
    const home: [string | null] = [null];
    f.info(home);
    f.terminate();
    probe.unload();
    if (rate !== ESPEAK_RATE || !home[0]) return state;
    let english: Espeak['english'] = null;
    try { english = englishData(home[0]); } catch { /* the full data it is */ }
    state = {
      srand: koffi.load('libc.so.6').func('void srand(unsigned int)') as (seed: number) => void,
      callback: koffi.register((wav: unknown, n: number) => {
        if (n > 0) chunks.push((koffi.decode(wav, 'int16_t', n) as Int16Array).slice());
        return 0;
      }, koffi.pointer(proto)),
      english,
    };
  } catch {
    state = null;
  }
  return state;
}

/** Whether speakInProcess can be used here. */
export function espeakLibraryAvailable(): boolean {
  return library() !== null;
}

/**
 * Speaks `text` as `espeak-ng -v voice -s speed -p pitch -g gap text` would, returning its samples as floats
 * (int16 / 32768, as the program's WAV file reads back); null where the library is unavailable or `voice` names
 * no voice file (the program then chooses one by language).
 */
export function speakInProcess(voice: string, speed: number, pitch: number, gap: number, text: string): Float32Array | null {
  const s = library();
  if (!s) return null;
  const base = voice.split('+')[0]!.toLowerCase();
  const home = s.english && s.english.names.has(base) ? s.english.home : null;
  const lib = koffi.load(LIBRARY);
  const f = bind(lib);
  try {
    const rate = f.initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, home, INITIALIZE_DONT_EXIT);
    if (rate !== ESPEAK_RATE) throw new Error(`libespeak-ng initialised at ${rate} Hz; expected ${ESPEAK_RATE} Hz (is its data installed?)`);
    f.setCallback(s.callback);
    // a name that is no voice's: the program then picks a voice by language, which is left to it
    if (f.setVoiceByName(voice) !== 0) return null;
    f.setParameter(PARAM_RATE, speed, 0);
    f.setParameter(PARAM_PITCH, pitch, 0);
    f.setParameter(PARAM_WORDGAP, gap, 0);
    chunks = [];
    s.srand(1);
    const bytes = Buffer.from(`${text}\0`, 'utf8');
    const err = f.synth(bytes, bytes.length, 0, POS_CHARACTER, 0, SYNTH_FLAGS, null, null);
    if (err !== 0) throw new Error(`espeak-ng could not speak ${JSON.stringify(text)} (error ${err})`);
    const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      for (let i = 0; i < c.length; i++) out[o + i] = c[i]! / 32768;
      o += c.length;
    }
    return out;
  } finally {
    // Terminate joins the thread espeak_Initialize starts (its queue for asynchronous speech) and frees what
    // it loaded; unloading the code under a live thread crashed the process within a few hundred calls.
    chunks = [];
    f.terminate();
    lib.unload();
  }
}
