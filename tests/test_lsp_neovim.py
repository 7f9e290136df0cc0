"""`citerec lsp` in a real editor: Neovim (Debian's package), headless, set up exactly as the README says.

The README's Neovim 0.7–0.10 block is run as given (only the server command is
this checkout's Python), in a paper folder with no `.git` and no `.citerec/`,
from another working directory: complete inside `\\cite{`, hover, apply the
preferred code action on a mistyped key, save, and check the buffer's text
after each step. CI installs Neovim (scripts/install-test-tools.sh); without it the
test is skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from citerec.library import LIBRARY_ENV

README = Path(__file__).resolve().parents[1] / "README.md"
NVIM = shutil.which("nvim")
pytestmark = pytest.mark.skipif(NVIM is None, reason="nvim is not installed (scripts/install-test-tools.sh)")

MAIN = r"""\documentclass{article}
\begin{document}
The classic probabilistic relevance framework and its BM25 term weighting \cite{}.
Transformers \cite{vaswani2017atention} replace recurrence.
\bibliography{library}
\end{document}
"""

# Each step does what an editor user does, then checks the whole buffer; any failure ends nvim with an error.
STEPS = r"""
local out = assert(io.open(vim.env.CITEREC_NVIM_RESULT, 'w'))
local function done(status, message)
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  out:write(vim.fn.json_encode({ status = status, message = message, text = lines }))
  out:close()
  vim.cmd(status == 'ok' and 'qall!' or 'cquit! 1')
end
local function check(cond, message)
  if not cond then done('fail', message) error(message) end
end
local function text() return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n') end
local function expect(wanted, step) check(text() == wanted, step .. ': buffer is\n' .. text()) end
local function position(line, col)
  return { textDocument = vim.lsp.util.make_text_document_params(), position = { line = line, character = col } }
end

local ok, err = pcall(function()
  local buf = vim.api.nvim_get_current_buf()
  check(vim.wait(30000, function() return #vim.lsp.buf_get_clients(buf) > 0 end, 50), 'citerec never attached')
  local client = vim.lsp.buf_get_clients(buf)[next(vim.lsp.buf_get_clients(buf))]
  local start = text()

  -- 1. complete inside \cite{ and accept the first item
  local line = vim.api.nvim_buf_get_lines(buf, 2, 3, false)[1]
  local col = line:find('{}', 1, true)
  local reply = client.request_sync('textDocument/completion', position(2, col), 120000, buf)
  check(reply and reply.result, 'no completion: ' .. vim.inspect(reply))
  local items = reply.result.items or reply.result
  check(#items > 0 and items[1].label == 'robertson2009probabilistic', 'first item: ' .. vim.inspect(items[1]))
  vim.lsp.util.apply_text_edits({ items[1].textEdit }, buf, client.offset_encoding)
  local completed = start:gsub('weighting \\cite{}', 'weighting \\cite{robertson2009probabilistic}')
  expect(completed, 'completion')

  -- 2. hover on the key just inserted
  reply = client.request_sync('textDocument/hover', position(2, col + 3), 30000, buf)
  local shown = reply and reply.result and reply.result.contents.value or ''
  check(shown:find('Probabilistic Relevance Framework', 1, true), 'hover: ' .. shown)
  expect(completed, 'hover')

  -- 3. the mistyped key is diagnosed; apply the preferred code action
  local one = vim.wait(60000, function() return #vim.diagnostic.get(buf) == 1 end, 50)
  check(one, 'no diagnostic: ' .. vim.inspect(vim.diagnostic.get(buf)))
  vim.api.nvim_win_set_cursor(0, { 4, 20 })
  local params = vim.lsp.util.make_range_params()
  params.context = { diagnostics = vim.lsp.diagnostic.get_line_diagnostics(buf) }
  reply = client.request_sync('textDocument/codeAction', params, 30000, buf)
  local preferred = vim.tbl_filter(function(a) return a.isPreferred end, reply and reply.result or {})
  check(#preferred == 1, 'preferred actions: ' .. vim.inspect(reply))
  check(preferred[1].title:find('vaswani2017attention', 1, true), 'title: ' .. preferred[1].title)
  vim.lsp.util.apply_workspace_edit(preferred[1].edit, client.offset_encoding)
  local fixed = completed:gsub('vaswani2017atention', 'vaswani2017attention')
  expect(fixed, 'code action')

  -- 4. save: the file on disk is the buffer, and the diagnostic is gone
  vim.cmd('write')
  check(vim.wait(60000, function() return #vim.diagnostic.get(buf) == 0 end, 50), 'diagnostic stays after the fix')
  check(table.concat(vim.fn.readfile(vim.api.nvim_buf_get_name(buf)), '\n') == fixed, 'file on disk differs')
  expect(fixed, 'save')
end)
if ok then done('ok', '') else done('fail', tostring(err)) end
"""


def readme_setup(command: list[str]) -> str:
    """The README's Neovim 0.7–0.10 setup, with `citerec lsp` replaced by this checkout's command."""
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("**Neovim** 0.7–0.10") :]
    block = re.search(r"```lua\n(.*?)```", section, re.S).group(1)
    assert "{ 'citerec', 'lsp' }" in block
    return block.replace("{ 'citerec', 'lsp' }", "{ " + ", ".join(json.dumps(part) for part in command) + " }")


def test_neovim_completes_hovers_fixes_and_saves(tmp_path: Path, examples_dir: Path) -> None:
    version = subprocess.run([NVIM, "--version"], capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
    paper, elsewhere = tmp_path / "paper", tmp_path / "elsewhere"
    paper.mkdir()
    elsewhere.mkdir()
    (paper / "main.tex").write_text(MAIN, encoding="utf-8")
    shutil.copy(examples_dir / "refs.bib", paper / "library.bib")
    server_log = tmp_path / "server.log"
    setup = tmp_path / "init.lua"
    setup.write_text(readme_setup([sys.executable, "-m", "citerec", "lsp", "--log-file", str(server_log)]))
    steps = tmp_path / "steps.lua"
    steps.write_text(STEPS)
    result = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if k != LIBRARY_ENV}
    env.update(CITEREC_NVIM_RESULT=str(result), XDG_STATE_HOME=str(tmp_path / "state"))
    command = [NVIM, "--headless", "--clean", "-u", str(setup), str(paper / "main.tex"), "-c", f"luafile {steps}"]
    proc = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    outcome = json.loads(result.read_text()) if result.exists() else {"status": "no result", "message": proc.stderr}
    log = server_log.read_text() if server_log.exists() else ""
    assert outcome["status"] == "ok", f"{version}: {outcome['message']}\n--- server log ---\n{log[-3000:]}"
    assert proc.returncode == 0
    assert not (paper / ".git").exists() and (paper / ".citerec").is_dir()  # found beside the draft, no root
    assert "library.bib (named by main.tex)" in log
    assert "Traceback" not in log and " ERROR " not in log
    assert (paper / "main.tex").read_text(encoding="utf-8") == MAIN.replace(
        "\\cite{}", "\\cite{robertson2009probabilistic}"
    ).replace("atention", "attention")
