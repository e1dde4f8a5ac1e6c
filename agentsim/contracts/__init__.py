"""Prompt contracts: one declaration per template in `prompts/`.

A contract (`Contract`) names a template, the pydantic model of its variables (a `Vars`), the
model its answer must validate against, the tier that answers it, its token budget and the
lists that may be trimmed to fit it, and an example of its variables. Cognition asks a template
only through its contract:

    from agentsim.contracts import REACT, ReactVars
    answer = await REACT.ask(ctx.llm, ReactVars(persona=..., ...), agent=agent.id)

and the offline mind receives the same typed variables (`Contract.validate`). The prompt
library takes budgets and trims from here, and `agentsim.llm.prompt_check` checks that the
templates and the contracts match. Adding a prompt: see docs/prompts.md.

This package imports only pydantic (and nothing of agentsim but itself): it sits below both
cognition and the LLM layer.

    memory     importance, reflect_questions, reflect_insights
    planning   day_plan, replan, plan_critique, plan_refine, decompose
    social     react, converse_turn, dialogue_critique, dialogue_refine,
               conversation_memory, interview
    summary    summary (the agent's summary description, rebuilt daily)
    skills     skill_choose, skill_write, skill_fix, skill_verify, curriculum
    evaluation judge_rank (agentsim evaluate)
    knowing    knows_about (diffusion and density by interview, agentsim.metrics)
    group      group_turn, debate_answer, answer_judge (group conversations, protocols)
    game_master  game_master (what an action causes when no rule says)
    classroom  teach_turn (a teacher's turn, from the lesson's sources)
    studio     code_change, code_review, test_report (a team writes a program together)
    outputs    the answer models;  shapes  the nested variable shapes;  samples  example data
"""

from __future__ import annotations

from agentsim.contracts.classroom import TEACH_TURN, TeachTurnVars
from agentsim.contracts.contract import (
    CONTRACTS,
    DEFAULT_BUDGET,
    UNKNOWN,
    Answered,
    Answering,
    Asker,
    Contract,
    Vars,
    ask,
)
from agentsim.contracts.evaluation import JUDGE_RANK, JudgeRankVars
from agentsim.contracts.game_master import GAME_MASTER, GameMasterDecision, GameMasterVars
from agentsim.contracts.group import (
    ANSWER_JUDGE,
    DEBATE_ANSWER,
    GROUP_TURN,
    AnswerJudgeVars,
    DebateAnswer,
    DebateAnswerVars,
    GroupTurn,
    GroupTurnVars,
    Verdict,
)
from agentsim.contracts.knowing import KNOWS_ABOUT, KnowsAboutVars, KnowsAnswer
from agentsim.contracts.memory import (
    IMPORTANCE,
    REFLECT_INSIGHTS,
    REFLECT_QUESTIONS,
    ImportanceVars,
    ReflectInsightsVars,
    ReflectQuestionsVars,
)
from agentsim.contracts.planning import (
    DAY_PLAN,
    DECOMPOSE,
    PLAN_CRITIQUE,
    PLAN_REFINE,
    REPLAN,
    DayPlanVars,
    DecomposeVars,
    PlanCritiqueVars,
    PlanFrameVars,
    PlanRefineVars,
    ReplanVars,
)
from agentsim.contracts.skills import (
    CURRICULUM,
    SKILL_CHOOSE,
    SKILL_FIX,
    SKILL_VERIFY,
    SKILL_WRITE,
    CurriculumVars,
    SkillBaseVars,
    SkillChooseVars,
    SkillFixVars,
    SkillVerifyVars,
    SkillWriteVars,
)
from agentsim.contracts.social import (
    CONVERSATION_MEMORY,
    CONVERSE_TURN,
    DIALOGUE_CRITIQUE,
    DIALOGUE_REFINE,
    INTERVIEW,
    REACT,
    ConversationMemoryVars,
    ConverseTurnVars,
    DialogueCritiqueVars,
    DialogueRefineVars,
    InterviewVars,
    ReactVars,
)
from agentsim.contracts.studio import (
    CODE_CHANGE,
    CODE_REVIEW,
    TEST_REPORT,
    CodeChangeVars,
    CodeReviewVars,
    TesterReportVars,
)
from agentsim.contracts.summary import SUMMARY, SummaryStatement, SummaryVars

__all__ = [
    "ANSWER_JUDGE", "CODE_CHANGE", "CODE_REVIEW",
    "CONTRACTS", "CONVERSATION_MEMORY", "CONVERSE_TURN", "CURRICULUM", "DAY_PLAN",
    "DEBATE_ANSWER",
    "DECOMPOSE", "DEFAULT_BUDGET", "DIALOGUE_CRITIQUE", "DIALOGUE_REFINE", "GAME_MASTER",
    "GROUP_TURN",
    "IMPORTANCE", "INTERVIEW", "JUDGE_RANK",
    "KNOWS_ABOUT",
    "PLAN_CRITIQUE", "PLAN_REFINE", "REACT", "REFLECT_INSIGHTS",
    "REFLECT_QUESTIONS", "REPLAN", "SKILL_CHOOSE", "SKILL_FIX", "SKILL_VERIFY", "SKILL_WRITE",
    "SUMMARY", "TEACH_TURN", "TEST_REPORT", "UNKNOWN", "AnswerJudgeVars", "Answered", "Answering",
    "Asker", "CodeChangeVars",
    "CodeReviewVars",
    "Contract", "ConversationMemoryVars",
    "ConverseTurnVars", "CurriculumVars", "DayPlanVars", "DebateAnswer", "DebateAnswerVars",
    "DecomposeVars", "DialogueCritiqueVars", "DialogueRefineVars", "GameMasterDecision",
    "GameMasterVars",
    "GroupTurn", "GroupTurnVars", "ImportanceVars", "InterviewVars", "JudgeRankVars",
    "KnowsAboutVars", "KnowsAnswer",
    "PlanCritiqueVars", "PlanFrameVars",
    "PlanRefineVars",
    "ReactVars", "ReflectInsightsVars", "ReflectQuestionsVars", "ReplanVars", "SkillBaseVars",
    "SkillChooseVars", "SkillFixVars", "SkillVerifyVars", "SkillWriteVars", "SummaryStatement",
    "SummaryVars", "TeachTurnVars", "TesterReportVars", "Vars", "Verdict", "ask",
]
