"""The training plan: hyperparameters (learning rate, batch, steps), model shape, parallel
split and memory per GPU, and the batch and memory limits as solver constraints."""

from planner.training.hyperparams import (
           PRESETS,
           get_hyperparameter_law,
           hyperparameters,
)
from planner.training.plan import TrainingPlan, training_plan

__all__ = ["PRESETS", "TrainingPlan", "get_hyperparameter_law", "hyperparameters",
           "training_plan"]
