"""The grading pipeline's judge: hidden tests run in a kernel where student code never ran.

``codec`` says what may cross between the grader kernel and the student kernel (data only).
"""
