"""Skills: Python functions over the world's action API, run in a sandbox.

    api       WorldProxy (the action API a skill sees, simulated on a JSON snapshot of the
              world), ActionError, PRIMITIVES
    api_doc   API_DOC: the API as prompts show it
    check     check_code: the static check (nothing runs); seed skills are validated with it
    sandbox   run_skill (a fresh child process per run, with a time limit, a memory limit and
              no file, network or process access), Limits, SandboxResult
    wall      the operating-system wall around the child: bubblewrap namespaces and the
              seccomp filter it installs on itself (Linux), wall_status()
    _runner   the child's entry point (run as a script, never imported by agentsim)
    library   Skill, SkillLibrary (descriptions in chromadb, retrieval by task, counts),
              SharedLibrary (learned skills across runs), seed skills from worlds/<w>/skills/
    start     what a run starts from besides the seed skills: only --skills-from RUN_OR_LIBRARY,
              with the content hash the manifest records
    listing   what `agentsim skills WORLD_OR_RUN` shows

A skill does not act on the live world: its calls are recorded as primitive steps, which the
engine turns into the agent's actions over the next ticks. Nothing here is imported by
`import agentsim`.
"""
