import { useState } from 'preact/hooks';
import { keyStore } from '../api/key-store.ts';

/**
 * Asks for an API key when the manager wants one. It stays in this tab's sessionStorage only:
 * closing the tab forgets it, and no other tab or later visit sees it.
 */
export function KeyPrompt({ reason, onSaved }: { reason: string; onSaved: () => void }) {
  const [key, setKey] = useState('');
  return (
    <section class="panel key-prompt" aria-labelledby="key-title">
      <h2 id="key-title">API key needed</h2>
      <p>{reason}</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!key.trim()) return;
          keyStore.set(key.trim());
          onSaved();
        }}
      >
        <label>
          API key <small class="muted">(kept in this tab only)</small>
          <input
            name="api-key"
            type="password"
            autoComplete="off"
            value={key}
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Use this key</button>
      </form>
    </section>
  );
}
