// Attachments in the browser: images read as data URLs; audio (an uploaded file or a microphone recording from
// MediaRecorder, whatever container the browser records: webm/opus, ogg, mp4) decoded with an AudioContext,
// mixed to mono and resampled to 16 kHz with an OfflineAudioContext, and written as 16-bit PCM WAV — the format
// every tessera model reads without ffmpeg, and small (32 kB per second). A file the browser cannot decode is
// sent as it is when the server accepts its format (mp3, ogg, wav: the server decodes those with ffmpeg).

export const audioRate = 16000;

export function readDataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error ?? new Error('could not read the file'));
    r.readAsDataURL(blob);
  });
}

/** Mono float samples → a 16-bit PCM WAV file. */
export function encodeWav(samples: Float32Array, rate: number): Blob {
  const buf = new ArrayBuffer(44 + samples.length * 2);
  const v = new DataView(buf);
  const text = (at: number, s: string): void => { for (let i = 0; i < s.length; i++) v.setUint8(at + i, s.charCodeAt(i)); };
  text(0, 'RIFF'); v.setUint32(4, 36 + samples.length * 2, true); text(8, 'WAVE');
  text(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  text(36, 'data'); v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]!));
    v.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([buf], { type: 'audio/wav' });
}

/** Any audio the browser decodes → 16 kHz mono WAV, and its duration. */
export async function toWav(blob: Blob): Promise<{ wav: Blob; seconds: number }> {
  const ctx = new AudioContext();
  let decoded: AudioBuffer;
  try {
    decoded = await ctx.decodeAudioData(await blob.arrayBuffer());
  } finally {
    void ctx.close();
  }
  const length = Math.max(1, Math.ceil(decoded.duration * audioRate));
  const offline = new OfflineAudioContext(1, length, audioRate);
  const src = offline.createBufferSource();
  src.buffer = decoded; // the destination has one channel, so the source is down-mixed
  src.connect(offline.destination);
  src.start();
  const rendered = await offline.startRendering();
  return { wav: encodeWav(rendered.getChannelData(0), audioRate), seconds: decoded.duration };
}

export type AudioFormat = 'wav' | 'mp3' | 'ogg';

/** An audio file as the API takes it: WAV when the browser decodes it, else the original mp3/ogg/wav bytes. */
export async function audioAttachment(file: Blob, name: string): Promise<{ url: string; format: AudioFormat; seconds: number | null }> {
  try {
    const { wav, seconds } = await toWav(file);
    return { url: await readDataUrl(wav), format: 'wav', seconds };
  } catch {
    const ext = /\.(wav|mp3|ogg|oga|opus)$/i.exec(name)?.[1]?.toLowerCase();
    const format: AudioFormat | null = ext === 'wav' ? 'wav' : ext === 'mp3' ? 'mp3' : ext ? 'ogg' : null;
    if (!format) throw new Error(`${name}: this browser cannot decode it, and the server takes only wav, mp3 or ogg`);
    return { url: await readDataUrl(file), format, seconds: null };
  }
}

export function canRecord(): boolean {
  return typeof MediaRecorder !== 'undefined' && !!navigator.mediaDevices?.getUserMedia;
}

/** A microphone recording: `stop()` resolves to the recorded audio as 16 kHz WAV. */
export async function startRecording(): Promise<{ stop(): Promise<Blob>; cancel(): void }> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const recorder = new MediaRecorder(stream);
  const chunks: Blob[] = [];
  recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  const stopped = new Promise<void>((resolve) => { recorder.onstop = () => resolve(); });
  recorder.start();
  const release = (): void => { for (const t of stream.getTracks()) t.stop(); };
  return {
    async stop() {
      recorder.stop();
      await stopped;
      release();
      const { wav } = await toWav(new Blob(chunks, { type: recorder.mimeType }));
      return wav;
    },
    cancel() {
      if (recorder.state !== 'inactive') recorder.stop();
      release();
    },
  };
}
